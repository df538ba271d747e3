import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAwsEndpoint, resolveEndpoint } from '../../src/aws/endpoints';
import type { ProfileInfo } from '../../src/aws/profiles';

function profile(fields: Partial<ProfileInfo> = {}): ProfileInfo {
  return { name: 'p', serviceEndpoints: {}, kind: 'static', ...fields };
}

const FULL_PROFILE = profile({
  endpointUrl: 'https://profile-wide.example.org',
  serviceEndpoints: { s3: 'https://profile-s3.example.org', ec2: 'https://profile-ec2.example.org' },
});
const FULL_ENV = {
  AWS_ENDPOINT_URL_S3: 'https://env-s3.example.org',
  AWS_ENDPOINT_URL: 'https://env-global.example.org',
};

describe('resolveEndpoint precedence', () => {
  test('the override beats everything else', () => {
    assert.equal(resolveEndpoint('s3', FULL_PROFILE, FULL_ENV, 'https://override.example.org'), 'https://override.example.org');
  });

  test('then AWS_ENDPOINT_URL_<SERVICE>', () => {
    assert.equal(resolveEndpoint('s3', FULL_PROFILE, FULL_ENV), 'https://env-s3.example.org');
  });

  test('then AWS_ENDPOINT_URL', () => {
    assert.equal(resolveEndpoint('s3', FULL_PROFILE, { AWS_ENDPOINT_URL: FULL_ENV.AWS_ENDPOINT_URL }), 'https://env-global.example.org');
  });

  test('then the service entry of the profile\'s services section', () => {
    assert.equal(resolveEndpoint('s3', FULL_PROFILE, {}), 'https://profile-s3.example.org');
    assert.equal(resolveEndpoint('ec2', FULL_PROFILE, {}), 'https://profile-ec2.example.org');
  });

  test('then the profile\'s endpoint_url, for services without their own entry', () => {
    assert.equal(resolveEndpoint('ssm', FULL_PROFILE, {}), 'https://profile-wide.example.org');
  });

  test('nothing configured means the AWS endpoint (undefined)', () => {
    assert.equal(resolveEndpoint('s3', profile(), {}), undefined);
    assert.equal(resolveEndpoint('s3', undefined, {}), undefined);
  });

  test('a service env variable applies to its service only', () => {
    assert.equal(resolveEndpoint('ec2', profile(), { AWS_ENDPOINT_URL_S3: 'https://env-s3.example.org' }), undefined);
    assert.equal(resolveEndpoint('ec2', profile(), { AWS_ENDPOINT_URL_EC2: 'https://env-ec2.example.org' }), 'https://env-ec2.example.org');
    assert.equal(
      resolveEndpoint('cloudwatch', profile(), { AWS_ENDPOINT_URL_CLOUDWATCH: 'https://cw.example.org' }),
      'https://cw.example.org',
    );
  });

  test('the override is used for the service it is given for, whatever the env says', () => {
    assert.equal(resolveEndpoint('s3', undefined, { AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }, 'https://o.example.org'), 'https://o.example.org');
  });

  test('empty and blank values are skipped, and values are trimmed', () => {
    const env = { AWS_ENDPOINT_URL_S3: '', AWS_ENDPOINT_URL: '   ' };
    assert.equal(resolveEndpoint('s3', FULL_PROFILE, env), 'https://profile-s3.example.org');
    assert.equal(resolveEndpoint('s3', profile(), { AWS_ENDPOINT_URL: '  https://padded.example.org \n' }), 'https://padded.example.org');
    assert.equal(resolveEndpoint('s3', profile({ serviceEndpoints: { s3: ' ' }, endpointUrl: 'https://wide.example.org' }), {}), 'https://wide.example.org');
  });

  test('an empty override falls through to the configured endpoints', () => {
    assert.equal(resolveEndpoint('s3', FULL_PROFILE, FULL_ENV, ''), 'https://env-s3.example.org');
  });
});

describe('AWS_IGNORE_CONFIGURED_ENDPOINT_URLS', () => {
  test('true (any case) ignores env variables and profile entries', () => {
    for (const value of ['true', 'TRUE', 'True']) {
      assert.equal(resolveEndpoint('s3', FULL_PROFILE, { ...FULL_ENV, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: value }), undefined, value);
    }
  });

  test('other values do not ignore anything', () => {
    for (const value of ['false', '', '1', 'yes']) {
      assert.equal(
        resolveEndpoint('s3', FULL_PROFILE, { ...FULL_ENV, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: value }),
        'https://env-s3.example.org',
        value,
      );
    }
  });
});

describe('isAwsEndpoint', () => {
  test('no endpoint means AWS', () => {
    assert.equal(isAwsEndpoint(undefined), true);
    assert.equal(isAwsEndpoint(''), true);
  });

  test('amazonaws.com, amazonaws.com.cn and api.aws hosts are AWS', () => {
    for (const url of [
      'https://s3.amazonaws.com',
      'https://s3.eu-west-1.amazonaws.com',
      'https://my-bucket.s3.us-east-2.amazonaws.com/some/key',
      'https://s3.cn-north-1.amazonaws.com.cn',
      'https://s3.dualstack.us-east-1.api.aws',
      'https://S3.US-WEST-2.AMAZONAWS.COM',
    ]) {
      assert.equal(isAwsEndpoint(url), true, url);
    }
  });

  test('S3-compatible stores, localhost and look-alike hosts are not AWS', () => {
    for (const url of [
      'http://localhost:9000',
      'http://127.0.0.1:7480',
      'https://s3.campus.example.edu',
      'https://evilamazonaws.com',
      'https://s3.amazonaws.com.example.org',
      'https://fake-api.aws.example.org',
    ]) {
      assert.equal(isAwsEndpoint(url), false, url);
    }
  });

  test('text that is not a URL is not AWS', () => {
    assert.equal(isAwsEndpoint('not a url'), false);
    assert.equal(isAwsEndpoint('s3.campus.example.edu'), false);
  });
});
