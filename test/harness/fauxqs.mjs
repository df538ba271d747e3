// A portable local S3 (fauxqs, pure npm) for the demo and the end-to-end tests. It checks no
// credentials and keeps objects in memory; integration tests use Ceph RGW (rgw.mjs) instead,
// which behaves like production S3.
/** Starts fauxqs on 127.0.0.1; `port` 0 picks a free one. */
export async function startLocalS3({ port = 0 } = {}) {
  // fauxqs is ESM-only; a dynamic import resolves it even when this file is loaded through
  // require() (tsx runs the .ts tests as CommonJS).
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port, host: '127.0.0.1', logger: false });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    region: 'us-east-1',
    // fauxqs accepts any keys; the SDK still needs some to sign with.
    accessKeyId: 'LOCALDEMOKEY',
    secretAccessKey: 'local-demo-secret',
    stop: () => server.stop(),
  };
}
