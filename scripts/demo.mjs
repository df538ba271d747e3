// `npm run demo`: builds the extension and opens it in code-server (a real VS Code in the
// browser). With AWS credentials configured it uses them; otherwise, or with `--local`, it starts
// a local S3-compatible server with a sample bucket and points the extension at it through a
// demo AWS profile (`endpoint_url`), the same way a user would point it at Ceph or MinIO.
// Stop with Ctrl-C.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVsix, ensureDebianPackages, ensureNpmPackages } from './lib/setup.mjs';

const args = process.argv.slice(2);
const port = Number(/^--port=(\d+)$/.exec(args.find((a) => a.startsWith('--port=')) ?? '')?.[1] ?? 8080);

ensureNpmPackages();
ensureDebianPackages(['ripgrep', 'libkrb5-dev']);
const vsix = buildVsix();
const { ensureCodeServer, startCodeServer } = await import('../test/harness/code-server.mjs');
await ensureCodeServer({ log: (line) => console.log(line) });

const scratch = await mkdtemp(join(tmpdir(), 'research-cloud-demo-'));
const cleanups = [() => rm(scratch, { recursive: true, force: true })];
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

try {
  const useAws = !args.includes('--local') && hasAwsCredentials();
  const env = useAws ? {} : await startLocalStore();
  const workspace = join(scratch, 'workspace');
  await mkdir(join(workspace, 'results'), { recursive: true });
  await writeFile(join(workspace, 'results', 'summary.csv'), 'sample,reads\nS1,1000\nS2,1200\n');
  const server = await startCodeServer({ folder: workspace, env, vsix, port, log: () => undefined });
  cleanups.push(() => server.stop());
  console.log(`\nResearch Cloud is running in code-server ${useAws ? 'with your AWS configuration' : 'against a local S3 server with a sample bucket'}.`);
  console.log(`Open ${server.url} in a browser, then the Research Cloud icon in the activity bar. Ctrl-C stops it.`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  await stop();
}

function hasAwsCredentials() {
  const env = process.env;
  if (env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE) return true;
  const aws = join(homedir(), '.aws');
  return existsSync(env.AWS_SHARED_CREDENTIALS_FILE ?? join(aws, 'credentials')) || existsSync(env.AWS_CONFIG_FILE ?? join(aws, 'config'));
}

/** Starts the local S3 server, seeds it, and writes a demo profile pointing at it. */
async function startLocalStore() {
  const { startLocalS3 } = await import('../test/harness/fauxqs.mjs');
  const { seedSampleData, SAMPLE_BUCKET } = await import('../test/fixtures/sample-data.mjs');
  const store = await startLocalS3();
  cleanups.push(() => store.stop());
  console.log(`Local S3 server at ${store.endpoint}; uploading the sample bucket ${SAMPLE_BUCKET}…`);
  await seedSampleData(store);
  const aws = join(scratch, 'aws');
  await mkdir(aws);
  await writeFile(join(aws, 'config'), `[profile demo]\nregion = ${store.region}\nendpoint_url = ${store.endpoint}\n`);
  await writeFile(join(aws, 'credentials'), `[demo]\naws_access_key_id = ${store.accessKeyId}\naws_secret_access_key = ${store.secretAccessKey}\n`);
  return { AWS_CONFIG_FILE: join(aws, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(aws, 'credentials'), AWS_PROFILE: 'demo' };
}

