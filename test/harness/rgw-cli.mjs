// Starts one throwaway Ceph RGW for manual runs: prints its endpoint and keys as one JSON line on
// stdout (progress goes to stderr), and stays up until SIGINT or SIGTERM, then stops it.
//
//   node test/harness/rgw-cli.mjs [--port N] [--objectstore memstore|bluestore]

import { parseArgs } from 'node:util';
import { startRgw } from './rgw.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    objectstore: { type: 'string', default: 'memstore' },
  },
});

const rgw = await startRgw({
  port: values.port === undefined ? undefined : Number(values.port),
  objectstore: /** @type {'memstore' | 'bluestore'} */ (values.objectstore),
  log: (line) => console.error(line),
});
const { endpoint, region, accessKeyId, secretAccessKey } = rgw;
console.log(JSON.stringify({ endpoint, region, accessKeyId, secretAccessKey }));

// Signal listeners do not keep node running and the daemons are unref'd, so hold the loop open.
const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    clearInterval(keepAlive);
    await rgw.stop();
    console.error(`stopped on ${signal}`);
  });
}
