// KMS encryption and the handshake answer (shared/ssm-protocol.md §6, §10), with a known data key
// and a local GenerateDataKey stand-in.
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { answerHandshake, CLIENT_VERSION } from '../../src/ssm/handshake';
import { openAesGcm, performKmsEncryption, sealAesGcm, SessionCipher, type DataKeyRequest, type GenerateDataKey } from '../../src/ssm/kms';

/** The known 64-byte data key 00 01 02 … 3f. */
const DATA_KEY = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
const AGENT_TO_CLIENT_KEY = DATA_KEY.subarray(0, 32);
const CLIENT_TO_AGENT_KEY = DATA_KEY.subarray(32, 64);
const IDENTITY = { sessionId: 'alice-0123456789abcdef0', targetId: 'i-0123456789abcdef0' };

/** A GenerateDataKey stand-in that returns DATA_KEY and a recognisable blob, recording requests. */
function fakeKms(): { generate: GenerateDataKey; requests: DataKeyRequest[] } {
  const requests: DataKeyRequest[] = [];
  return {
    requests,
    generate: async (request) => {
      requests.push(request);
      return { Plaintext: new Uint8Array(DATA_KEY), CiphertextBlob: new Uint8Array(Buffer.from('sealed-data-key')) };
    },
  };
}

describe('SessionCipher: the key split', () => {
  test('decrypts what the agent sends with bytes 0–31 (a fixed-nonce vector)', () => {
    const nonce = Buffer.from('000102030405060708090a0b', 'hex');
    const cipher = createCipheriv('aes-256-gcm', AGENT_TO_CLIENT_KEY, nonce);
    const sealed = Buffer.concat([nonce, cipher.update('sh-5.2$ '), cipher.final(), cipher.getAuthTag()]);
    assert.equal(new SessionCipher(DATA_KEY).decrypt(sealed).toString(), 'sh-5.2$ ');
  });

  test('encrypts what it sends with bytes 32–63 as nonce(12) ‖ ciphertext ‖ tag(16)', () => {
    const sealed = new SessionCipher(DATA_KEY).encrypt(Buffer.from('ls\r'));
    assert.equal(sealed.length, 12 + 3 + 16);
    assert.equal(openAesGcm(CLIENT_TO_AGENT_KEY, sealed).toString(), 'ls\r');
    assert.throws(() => openAesGcm(AGENT_TO_CLIENT_KEY, sealed), 'the other half must not open it');
  });

  test('answers the challenge: agent bytes decrypted with one half, re-encrypted with the other', () => {
    const challengeBytes = randomBytes(64);
    const challenge = sealAesGcm(AGENT_TO_CLIENT_KEY, challengeBytes).toString('base64');
    const answer = new SessionCipher(DATA_KEY).answerChallenge(challenge);
    assert.deepEqual(openAesGcm(CLIENT_TO_AGENT_KEY, Buffer.from(answer, 'base64')), challengeBytes);
  });

  test('refuses tampered data and a key of the wrong size', () => {
    const sealed = sealAesGcm(AGENT_TO_CLIENT_KEY, Buffer.from('output'));
    sealed[14] ^= 1;
    assert.throws(() => new SessionCipher(DATA_KEY).decrypt(sealed));
    assert.throws(() => new SessionCipher(DATA_KEY.subarray(0, 63)), /63 bytes/);
  });
});

describe('performKmsEncryption', () => {
  test('asks for 64 bytes bound to session, target and challenge, and acknowledges the challenge', async () => {
    const kms = fakeKms();
    const result = await performKmsEncryption({ KMSKeyId: 'arn:aws:kms:eu-west-1:1:key/k', Challenge: 'Y2hhbGxlbmdl' }, IDENTITY, kms.generate);
    assert.deepEqual(kms.requests, [
      {
        KeyId: 'arn:aws:kms:eu-west-1:1:key/k',
        NumberOfBytes: 64,
        EncryptionContext: { 'aws:ssm:SessionId': IDENTITY.sessionId, 'aws:ssm:TargetId': IDENTITY.targetId, 'aws:ssm:RandomChallenge': 'Y2hhbGxlbmdl' },
      },
    ]);
    assert.deepEqual(result.actionResult, {
      KMSCipherTextKey: Buffer.from('sealed-data-key').toString('base64'),
      KMSCipherTextHash: null,
      ChallengeAcknowledgement: true,
    });
  });

  test('for agents that send no challenge, leaves it out of the context and the result', async () => {
    const kms = fakeKms();
    const result = await performKmsEncryption({ KMSKeyId: 'k' }, IDENTITY, kms.generate);
    assert.deepEqual(Object.keys(kms.requests[0].EncryptionContext), ['aws:ssm:SessionId', 'aws:ssm:TargetId']);
    assert.equal('ChallengeAcknowledgement' in result.actionResult, false);
  });
});

describe('answerHandshake', () => {
  const portRequest = {
    AgentVersion: '3.3.987.0',
    RequestedClientActions: [
      { ActionType: 'SessionType', ActionParameters: { SessionType: 'Port', Properties: { portNumber: '8888', localPortNumber: '0', type: 'LocalPortForwarding' } } },
    ],
  };

  test('accepts the session type and reports a numeric client version above 1.2.331.0', async () => {
    const answer = await answerHandshake(portRequest, { identity: IDENTITY, clientVersion: CLIENT_VERSION });
    assert.equal(
      JSON.stringify(answer.response),
      `{"ClientVersion":"1.2.694.0","ProcessedClientActions":[{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}`,
    );
    assert.deepEqual(answer.info, {
      sessionType: 'Port',
      properties: { portNumber: '8888', localPortNumber: '0', type: 'LocalPortForwarding' },
      agentVersion: '3.3.987.0',
      encrypted: false,
    });
    assert.equal(answer.failure, undefined);
    const parts = CLIENT_VERSION.split('.').map(Number);
    assert.equal(parts.length, 4);
    assert.ok(parts.every(Number.isInteger));
    assert.ok(parts[0] * 1e9 + parts[1] * 1e6 + parts[2] * 1e3 + parts[3] > 1 * 1e9 + 2 * 1e6 + 331 * 1e3);
  });

  test('answers KMSEncryption with the cipher text key, in the protocol’s shape', async () => {
    const kms = fakeKms();
    const request = {
      AgentVersion: '3.3.987.0',
      RequestedClientActions: [
        { ActionType: 'SessionType', ActionParameters: { SessionType: 'Standard_Stream', Properties: null } },
        { ActionType: 'KMSEncryption', ActionParameters: { KMSKeyId: 'k', Challenge: 'c2VjcmV0' } },
      ],
    };
    const answer = await answerHandshake(request, { identity: IDENTITY, clientVersion: CLIENT_VERSION, generateDataKey: kms.generate });
    assert.deepEqual(answer.response.ProcessedClientActions[1], {
      ActionType: 'KMSEncryption',
      ActionStatus: 1,
      ActionResult: { KMSCipherTextKey: Buffer.from('sealed-data-key').toString('base64'), KMSCipherTextHash: null, ChallengeAcknowledgement: true },
      Error: '',
    });
    assert.equal(answer.info.encrypted, true);
    assert.ok(answer.cipher);
  });

  test('reports KMS it cannot do as Failed, with a reason the user can act on', async () => {
    const request = { AgentVersion: '3.3.987.0', RequestedClientActions: [{ ActionType: 'KMSEncryption', ActionParameters: { KMSKeyId: 'k' } }] };
    const answer = await answerHandshake(request, { identity: IDENTITY, clientVersion: CLIENT_VERSION });
    assert.equal(answer.response.ProcessedClientActions[0].ActionStatus, 2);
    assert.match(answer.failure?.message ?? '', /requires Session Manager KMS encryption/);
    assert.deepEqual(answer.response.Errors, [answer.failure?.message]);

    const denied: GenerateDataKey = async () => {
      throw new Error('User is not authorized to perform: kms:GenerateDataKey');
    };
    const failed = await answerHandshake(request, { identity: IDENTITY, clientVersion: CLIENT_VERSION, generateDataKey: denied });
    assert.equal(failed.response.ProcessedClientActions[0].Error, 'User is not authorized to perform: kms:GenerateDataKey');
  });

  test('reports an unknown action as Unsupported and stops', async () => {
    const request = { AgentVersion: '9.9.9.9', RequestedClientActions: [{ ActionType: 'Teleport' }] };
    const answer = await answerHandshake(request, { identity: IDENTITY, clientVersion: CLIENT_VERSION });
    assert.equal(answer.response.ProcessedClientActions[0].ActionStatus, 3);
    assert.match(answer.failure?.message ?? '', /Teleport/);
  });
});
