import * as vscode from 'vscode';
import { explainAwsError } from '../aws/errors';
import { formatBytes } from '../core/format';
import { objectProperties, type ObjectProperties } from '../s3/objects';
import { formatS3Uri, s3Arn } from '../s3/uri';
import type { ConnectionState } from './connectionState';

const SCHEME = 's3-properties';

export function propertiesUri(bucket: string, key: string): vscode.Uri {
  return vscode.Uri.from({ scheme: SCHEME, authority: bucket, path: `/${key}`, query: 'properties.md' });
}

/** A read-only document with an object's properties, fetched fresh each time it opens. */
export function registerPropertiesDocuments(connection: ConnectionState): vscode.Disposable {
  return vscode.workspace.registerTextDocumentContentProvider(SCHEME, {
    async provideTextDocumentContent(uri) {
      const bucket = uri.authority;
      const key = uri.path.slice(1);
      try {
        return renderProperties(await objectProperties(await connection.connection.s3(), bucket, key));
      } catch (err) {
        return `# ${formatS3Uri(bucket, key)}\n\n${explainAwsError(err, { operation: 'Reading the properties', action: 's3:GetObject', resource: s3Arn(bucket, key), profile: connection.connection.profileName }).message}\n`;
      }
    },
  });
}

function renderProperties(p: ObjectProperties): string {
  const rows: Array<[string, string | undefined]> = [
    ['Size', `${formatBytes(p.size)} (${p.size.toLocaleString('en-US')} bytes)`],
    ['Last modified', p.lastModified?.toISOString()],
    ['Storage class', p.storageClass + (p.restore ? ` (restore: ${p.restore})` : '')],
    ['Content type', p.contentType],
    ['ETag', p.etag],
    ['Version id', p.versionId],
    ['Server-side encryption', p.serverSideEncryption ? p.serverSideEncryption + (p.kmsKeyId ? ` (${p.kmsKeyId})` : '') : 'None'],
    ['Bucket versioning', p.bucketVersioning],
    ['Bucket default encryption', p.bucketEncryption],
  ];
  const metadata = Object.entries(p.metadata);
  return [
    `# ${formatS3Uri(p.bucket, p.key)}`,
    '',
    '| Property | Value |',
    '| --- | --- |',
    ...rows.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `| ${k} | ${escapeCell(v!)} |`),
    '',
    '## User metadata',
    '',
    ...(metadata.length ? ['| Key | Value |', '| --- | --- |', ...metadata.map(([k, v]) => `| ${escapeCell(k)} | ${escapeCell(v)} |`)] : ['None.']),
    '',
  ].join('\n');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
