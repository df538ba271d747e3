import type * as vscode from 'vscode';
import type { S3Location } from '../../s3/uri';

/**
 * Buckets (or prefixes) the user added by name, remembered per profile: someone whose policy
 * does not allow ListAllMyBuckets, or allows only some prefixes, still gets a working tree.
 */
export class AddedBuckets {
  constructor(private readonly state: vscode.Memento) {}

  list(profile: string): S3Location[] {
    return this.state.get<S3Location[]>(this.key(profile), []);
  }

  async add(profile: string, location: S3Location): Promise<void> {
    const rest = this.list(profile).filter((l) => !sameLocation(l, location));
    await this.state.update(this.key(profile), [...rest, location]);
  }

  async remove(profile: string, location: S3Location): Promise<void> {
    await this.state.update(this.key(profile), this.list(profile).filter((l) => !sameLocation(l, location)));
  }

  private key(profile: string): string {
    return `researchCloud.addedBuckets.${profile}`;
  }
}

function sameLocation(a: S3Location, b: S3Location): boolean {
  return a.bucket === b.bucket && a.key === b.key;
}
