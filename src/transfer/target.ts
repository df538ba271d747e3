import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Connection } from '../aws/connection';
import { isAwsEndpoint } from '../aws/endpoints';
import { errorCode, explainAwsError } from '../aws/errors';
import { ObjectWriter, type ChecksumMode } from './objectWriter';

/** The clients an upload to one bucket uses, set up for the bucket's region and store. */
export interface TransferTarget {
  readonly bucket: string;
  readonly region: string;
  readonly s3: S3Client;
  readonly writer: ObjectWriter;
  readonly checksum: ChecksumMode;
}

/**
 * Finds the bucket's region (a bucket in another region than the profile's is common) and
 * makes the SDK client and the lean writer for it. AWS verifies CRC32C checksums; S3-compatible
 * stores ignore them, so there the engine sends Content-MD5 and compares ETags instead.
 */
export async function openTarget(connection: Connection, bucket: string, maxSockets: number): Promise<TransferTarget> {
  const endpoint = await connection.endpoint('s3');
  const compatible = !isAwsEndpoint(endpoint);
  const defaultRegion = await connection.region();
  let region = defaultRegion;
  try {
    const head = await (await connection.s3()).send(new HeadBucketCommand({ Bucket: bucket }));
    if (!compatible && head.BucketRegion) region = head.BucketRegion;
  } catch (err) {
    // A HEAD reply has no body to name the error: a bare 404 here is a missing bucket, not a missing object.
    const cause = errorCode(err) === 'NotFound' ? Object.assign(new Error(`The bucket ${bucket} does not exist.`), { name: 'NoSuchBucket', cause: err }) : err;
    throw explainAwsError(cause, { operation: `Opening s3://${bucket}/ for upload`, action: 's3:ListBucket', resource: `arn:aws:s3:::${bucket}`, profile: connection.profileName, endpoint });
  }
  const checksum: ChecksumMode = compatible ? 'md5' : 'crc32c';
  return {
    bucket,
    region,
    s3: await connection.s3(region === defaultRegion ? undefined : region),
    writer: new ObjectWriter({
      credentials: connection.credentialProvider(),
      region,
      endpoint,
      forcePathStyle: connection.options.s3ForcePathStyle ?? compatible,
      checksum,
      maxSockets,
    }),
    checksum,
  };
}
