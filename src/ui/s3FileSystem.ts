import * as vscode from 'vscode';
import { errorCode, explainAwsError } from '../aws/errors';
import { listPage } from '../s3/listing';
import { headObject, readObject } from '../s3/objects';
import { s3Arn } from '../s3/uri';
import type { ConnectionState } from './connectionState';

/**
 * `s3://bucket/key` as a read-only file system, so an object opens in a normal editor (with
 * syntax colouring, search, diff) without being saved to disk first. Writes are refused.
 */
export class S3FileSystem implements vscode.FileSystemProvider {
  private readonly changed = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changed.event;

  constructor(private readonly connection: ConnectionState) {}

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const { bucket, key } = parse(uri);
    if (!key || key.endsWith('/')) return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
    try {
      const head = await headObject(await this.s3(), bucket, key);
      const mtime = head.LastModified?.getTime() ?? 0;
      return { type: vscode.FileType.File, ctime: mtime, mtime, size: head.ContentLength ?? 0, permissions: vscode.FilePermission.Readonly };
    } catch (err) {
      throw this.fsError(err, uri, 'Reading');
    }
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const { bucket, key } = parse(uri);
    const limit = (vscode.workspace.getConfiguration('researchCloud').get<number>('s3.openMaxSizeMB') ?? 50) * 1e6;
    try {
      const s3 = await this.s3();
      const head = await headObject(s3, bucket, key);
      if ((head.ContentLength ?? 0) > limit) {
        throw vscode.FileSystemError.Unavailable(`${uri.toString(true)} is larger than researchCloud.s3.openMaxSizeMB; download it instead.`);
      }
      return await readObject(s3, bucket, key);
    } catch (err) {
      throw this.fsError(err, uri, 'Reading');
    }
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    const { bucket, key } = parse(uri);
    const prefix = key && !key.endsWith('/') ? `${key}/` : key;
    try {
      const page = await listPage(await this.s3(), { bucket, prefix });
      return [
        ...page.prefixes.map((p): [string, vscode.FileType] => [p.slice(prefix.length, -1), vscode.FileType.Directory]),
        ...page.objects.map((o): [string, vscode.FileType] => [o.key.slice(prefix.length), vscode.FileType.File]),
      ];
    } catch (err) {
      throw this.fsError(err, uri, 'Listing');
    }
  }

  createDirectory(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  writeFile(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  delete(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  rename(uri: vscode.Uri): never {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  private s3() {
    return this.connection.connection.s3();
  }

  private fsError(err: unknown, uri: vscode.Uri, verb: string): Error {
    if (err instanceof vscode.FileSystemError) return err;
    const code = errorCode(err);
    if (code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket') return vscode.FileSystemError.FileNotFound(uri);
    const { bucket, key } = parse(uri);
    const explained = explainAwsError(err, { operation: `${verb} ${uri.toString(true)}`, action: 's3:GetObject', resource: s3Arn(bucket, key), profile: this.connection.connection.profileName });
    return code === 'AccessDenied' ? vscode.FileSystemError.NoPermissions(explained.message) : vscode.FileSystemError.Unavailable(explained.message);
  }
}

function parse(uri: vscode.Uri): { bucket: string; key: string } {
  return { bucket: uri.authority, key: uri.path.replace(/^\//, '') };
}

export function registerS3FileSystem(connection: ConnectionState): vscode.Disposable {
  return vscode.workspace.registerFileSystemProvider('s3', new S3FileSystem(connection), { isReadonly: true, isCaseSensitive: true });
}
