import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Connection, DEFAULT_REGION, type ClientBaseConfig } from '../../src/aws/connection';
import { isolateProcessEnv, sampleEnv, tempAwsDir, withProcessEnv } from '../fixtures/aws-env';
import { captureRequest } from '../fixtures/s3';

// Credential providers and the S3 client read process.env themselves; keep the developer's
// AWS variables and ~/.aws out of these tests.
let restoreEnv: () => void;
before(() => {
  restoreEnv = isolateProcessEnv().restore;
});
after(() => restoreEnv());

/** A connection over the sample files; disposed when the test ends. */
function connect(t: { after: (fn: () => void) => void }, options: ConstructorParameters<typeof Connection>[0] = {}, env: NodeJS.ProcessEnv = sampleEnv()) {
  const connection = new Connection(options, env);
  t.after(() => connection.dispose());
  return connection;
}

describe('profileName', () => {
  test('an explicit profile beats AWS_PROFILE', (t) => {
    assert.equal(connect(t, { profile: 'ceph' }, sampleEnv({ AWS_PROFILE: 'minio' })).profileName, 'ceph');
  });

  test('AWS_PROFILE beats AWS_DEFAULT_PROFILE and default', (t) => {
    assert.equal(connect(t, {}, sampleEnv({ AWS_PROFILE: 'minio', AWS_DEFAULT_PROFILE: 'vault' })).profileName, 'minio');
    assert.equal(connect(t, {}, sampleEnv({ AWS_DEFAULT_PROFILE: 'vault' })).profileName, 'vault');
  });

  test('otherwise default; empty values count as unset', (t) => {
    assert.equal(connect(t, {}, sampleEnv()).profileName, 'default');
    assert.equal(connect(t, { profile: '' }, sampleEnv({ AWS_PROFILE: '' })).profileName, 'default');
  });

  test('profile() describes the profile of that name from the files in the connection\'s env', async (t) => {
    const info = await connect(t, { profile: 'lab-sso' }).profile();
    assert.equal(info.name, 'lab-sso');
    assert.equal(info.kind, 'sso');
    assert.equal(info.region, 'eu-west-1');
  });
});

describe('region', () => {
  // analyst has region eu-central-1 in the sample config; vault ca-central-1.
  test('an explicit region comes first', async (t) => {
    const env = sampleEnv({ AWS_REGION: 'us-west-1', AWS_DEFAULT_REGION: 'us-east-2' });
    assert.equal(await connect(t, { profile: 'analyst', region: 'ap-northeast-1' }, env).region(), 'ap-northeast-1');
  });

  test('then AWS_REGION', async (t) => {
    const env = sampleEnv({ AWS_REGION: 'us-west-1', AWS_DEFAULT_REGION: 'us-east-2' });
    assert.equal(await connect(t, { profile: 'analyst' }, env).region(), 'us-west-1');
  });

  test('then AWS_DEFAULT_REGION', async (t) => {
    assert.equal(await connect(t, { profile: 'analyst' }, sampleEnv({ AWS_DEFAULT_REGION: 'us-east-2' })).region(), 'us-east-2');
  });

  test('then the profile\'s region', async (t) => {
    assert.equal(await connect(t, { profile: 'analyst' }).region(), 'eu-central-1');
    assert.equal(await connect(t, {}, sampleEnv({ AWS_PROFILE: 'vault' })).region(), 'ca-central-1');
  });

  test('then us-east-1', async (t) => {
    assert.equal(DEFAULT_REGION, 'us-east-1');
    assert.equal(await connect(t, { profile: 'ci' }).region(), 'us-east-1');
    assert.equal(await connect(t, { profile: 'no-such-profile' }).region(), 'us-east-1');
  });
});

describe('construction', () => {
  test('reads no file: files written after construction are the ones used', async (t) => {
    const aws = tempAwsDir();
    t.after(() => aws.remove());
    const connection = connect(t, { profile: 'late' }, aws.env);
    // Had the constructor read (and kept) the files, it would have seen none.
    aws.write({ config: '[profile late]\nregion = eu-south-2\nendpoint_url = http://127.0.0.1:7480\n' });
    assert.equal(await connection.region(), 'eu-south-2');
    assert.equal(await connection.endpoint('s3'), 'http://127.0.0.1:7480');
  });

  test('works with shared files that do not exist', async (t) => {
    const aws = tempAwsDir();
    t.after(() => aws.remove());
    const connection = connect(t, {}, aws.env);
    assert.equal(connection.profileName, 'default');
    assert.deepEqual(await connection.profile(), { name: 'default', region: undefined, endpointUrl: undefined, serviceEndpoints: {}, kind: 'other' });
    assert.equal(await connection.region(), 'us-east-1');
    assert.equal(await connection.endpoint('s3'), undefined);
  });
});

describe('endpoints', () => {
  test('the s3Endpoint option is used for S3 only', async (t) => {
    const connection = connect(t, { profile: 'ceph', s3Endpoint: 'https://rgw.example.org' });
    assert.equal(await connection.endpoint('s3'), 'https://rgw.example.org');
    assert.equal(await connection.endpoint('ec2'), 'https://ec2.campus.example.edu');
  });

  test('profile services sections and endpoint_url apply', async (t) => {
    assert.equal(await connect(t, { profile: 'ceph' }).endpoint('s3'), 'https://s3.campus.example.edu');
    assert.equal(await connect(t, { profile: 'minio' }).endpoint('sts'), 'http://localhost:9000');
    assert.equal(await connect(t, { profile: 'default' }).endpoint('s3'), undefined);
  });

  test('isS3Compatible is true only for a non-AWS S3 endpoint', async (t) => {
    assert.equal(await connect(t, { profile: 'minio' }).isS3Compatible(), true);
    assert.equal(await connect(t, { profile: 'default' }).isS3Compatible(), false);
    assert.equal(await connect(t, { s3Endpoint: 'https://s3.eu-west-1.amazonaws.com' }).isS3Compatible(), false);
  });
});

describe('s3()', () => {
  test('for an S3-compatible endpoint: path-style, checksums only when required, the endpoint', async (t) => {
    const s3 = await connect(t, { profile: 'minio' }).s3();
    assert.equal(s3.config.forcePathStyle, true);
    assert.equal(await s3.config.requestChecksumCalculation(), 'WHEN_REQUIRED');
    assert.equal(await s3.config.responseChecksumValidation(), 'WHEN_REQUIRED');
    const endpoint = await s3.config.endpoint?.();
    assert.equal(endpoint?.protocol, 'http:');
    assert.equal(endpoint?.hostname, 'localhost');
    assert.equal(endpoint?.port, 9000);
  });

  // Requests are captured only after the SDK has resolved credentials, so the tests that build
  // one use profiles with static keys: an assume-role profile would call STS.
  test('for AWS: virtual-hosted style and the SDK\'s default checksums', async (t) => {
    const s3 = await connect(t, { profile: 'default' }).s3();
    assert.equal(s3.config.forcePathStyle, false);
    assert.equal(await s3.config.requestChecksumCalculation(), 'WHEN_SUPPORTED');
    assert.equal(await s3.config.responseChecksumValidation(), 'WHEN_SUPPORTED');
    assert.equal(s3.config.followRegionRedirects, true);
    assert.equal(await s3.config.region(), 'us-west-2');
    const request = await captureRequest(s3, new ListObjectsV2Command({ Bucket: 'research-bucket' }));
    assert.equal(request.hostname, 'research-bucket.s3.us-west-2.amazonaws.com');
    assert.equal(request.protocol, 'https:');
  });

  test('s3ForcePathStyle overrides the default either way', async (t) => {
    assert.equal((await connect(t, { profile: 'minio', s3ForcePathStyle: false }).s3()).config.forcePathStyle, false);
    assert.equal((await connect(t, { profile: 'analyst', s3ForcePathStyle: true }).s3()).config.forcePathStyle, true);
  });

  test('an endpoint from AWS_ENDPOINT_URL_S3 is where requests go, path-style', async (t) => {
    const s3 = await connect(t, { profile: 'creds-only' }, sampleEnv({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7480' })).s3();
    const endpoint = await s3.config.endpoint?.();
    assert.equal(endpoint?.hostname, '127.0.0.1');
    assert.equal(endpoint?.port, 7480);
    const request = await captureRequest(s3, new ListObjectsV2Command({ Bucket: 'research-bucket', Prefix: 'runs/' }));
    assert.equal(request.hostname, '127.0.0.1');
    assert.equal(request.port, 7480);
    assert.equal(request.path, '/research-bucket/');
    assert.equal(await s3.config.requestChecksumCalculation(), 'WHEN_REQUIRED');
  });

  test('returns the same client each time, and another one for another region', async (t) => {
    const connection = connect(t, { profile: 'analyst' });
    const [a, b] = await Promise.all([connection.s3(), connection.s3()]);
    assert.equal(a, b);
    assert.equal(await connection.s3(), a);
    const other = await connection.s3('ap-southeast-2');
    assert.notEqual(other, a);
    assert.equal(await other.config.region(), 'ap-southeast-2');
    assert.equal(await connection.s3('ap-southeast-2'), other);
  });

  test('the client signs with the connection\'s credentials', async (t) => {
    const s3 = await connect(t, { profile: 'ceph' }).s3();
    const credentials = await s3.config.credentials();
    assert.equal(credentials.accessKeyId, 'AKIACEPHEXAMPLE00001');
  });

  // Left to itself, the SDK looks up configured endpoints in the profile that process.env names
  // (or `default`), so an explicit profile without an endpoint would be sent to the default
  // profile's endpoint. Connection resolves endpoints itself and tells the SDK not to look again.
  test(
    'an explicit profile without an endpoint is not sent to the default profile\'s endpoint',
    async (t) => {
      const aws = tempAwsDir({
        config: '[default]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:9000\n\n[profile work]\nregion = eu-west-1\n',
        credentials: '[work]\naws_access_key_id = AKIAWORKEXAMPLE00001\naws_secret_access_key = workSecretExample\n',
      });
      t.after(() => aws.remove());
      await withProcessEnv(aws.env, async () => {
        const connection = connect(t, { profile: 'work' }, { ...process.env });
        assert.equal(await connection.endpoint('s3'), undefined, 'the connection itself resolves AWS');
        const request = await captureRequest(await connection.s3(), new ListObjectsV2Command({ Bucket: 'bkt' }));
        assert.equal(request.hostname, 'bkt.s3.eu-west-1.amazonaws.com');
      });
    },
  );
});

describe('client()', () => {
  test('builds any client from the same base config, once per service and region', async (t) => {
    const made: ClientBaseConfig[] = [];
    class FakeEc2Client {
      constructor(readonly config: ClientBaseConfig) {
        made.push(config);
      }
    }
    const connection = connect(t, { profile: 'ceph' });
    const ec2 = await connection.client(FakeEc2Client, 'ec2');
    assert.equal(await connection.client(FakeEc2Client, 'ec2'), ec2);
    assert.equal(made.length, 1);
    assert.equal(ec2.config.region, 'us-east-1');
    assert.equal(ec2.config.endpoint, 'https://ec2.campus.example.edu');
    assert.equal(ec2.config.credentials, connection.credentialProvider());
    const sts = await connection.client(FakeEc2Client, 'sts', 'eu-west-1');
    assert.equal(sts.config.region, 'eu-west-1');
    assert.equal('endpoint' in sts.config, false, 'no endpoint key at all for an AWS endpoint');
  });

  test('a client whose constructor throws is not cached', async (t) => {
    let calls = 0;
    class Flaky {
      constructor(_config: ClientBaseConfig) {
        if (++calls === 1) throw new Error('first construction fails');
      }
    }
    const connection = connect(t, { profile: 'ceph' });
    await assert.rejects(connection.client(Flaky, 'ssm'), /first construction fails/);
    await connection.client(Flaky, 'ssm');
    assert.equal(calls, 2);
  });
});

describe('credentialProvider()', () => {
  const ENV_KEYS = { AWS_ACCESS_KEY_ID: 'AKIAENVEXAMPLE000001', AWS_SECRET_ACCESS_KEY: 'envSecretExample', AWS_SESSION_TOKEN: 'envSessionToken' };

  test('an explicit profile is used even when keys are set in the environment', async (t) => {
    const connection = connect(t, { profile: 'ceph' }, sampleEnv(ENV_KEYS));
    const credentials = await connection.credentialProvider()();
    assert.equal(credentials.accessKeyId, 'AKIACEPHEXAMPLE00001');
    assert.equal(credentials.sessionToken, undefined);
  });

  test('without an explicit profile, keys in the environment win', async (t) => {
    const connection = connect(t, {}, sampleEnv(ENV_KEYS));
    const credentials = await connection.credentialProvider()();
    assert.equal(credentials.accessKeyId, 'AKIAENVEXAMPLE000001');
    assert.equal(credentials.secretAccessKey, 'envSecretExample');
    assert.equal(credentials.sessionToken, 'envSessionToken');
  });

  test('without an explicit profile or env keys, the profile the connection describes is used', async (t) => {
    assert.equal((await connect(t, {}).credentialProvider()()).accessKeyId, 'AKIAIOSFODNN7EXAMPLE');
    assert.equal((await connect(t, {}, sampleEnv({ AWS_PROFILE: 'minio' })).credentialProvider()()).accessKeyId, 'AKIAMINIOEXAMPLE0001');
    // Same profile for region/endpoint and for keys, even when it came from AWS_DEFAULT_PROFILE.
    const legacy = connect(t, {}, sampleEnv({ AWS_DEFAULT_PROFILE: 'creds-only' }));
    assert.equal(legacy.profileName, 'creds-only');
    assert.equal((await legacy.credentialProvider()()).accessKeyId, 'AKIACREDSONLYEXAMPLE');
  });

  test('a profile from the credentials file is found through the connection\'s env, not process.env', async (t) => {
    // process.env points at files that do not exist (see isolateProcessEnv).
    const credentials = await connect(t, { profile: 'override-me' }).credentialProvider()();
    assert.equal(credentials.accessKeyId, 'AKIAOVERRIDEEXAMPLE1');
  });

  test('the provider is made once per connection', (t) => {
    const connection = connect(t, { profile: 'ceph' });
    assert.equal(connection.credentialProvider(), connection.credentialProvider());
  });
});
