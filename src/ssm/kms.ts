// Session Manager's KMS encryption (shared/ssm-protocol.md §6.4, §10): a 64-byte data key from
// kms:GenerateDataKey, split in two AES-256-GCM keys, one per direction.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The GenerateDataKey request, in the SDK's own field names so a KMSClient adapts in one line. */
export interface DataKeyRequest {
  readonly KeyId: string;
  readonly NumberOfBytes: number;
  readonly EncryptionContext: Record<string, string>;
}

export interface DataKey {
  readonly Plaintext?: Uint8Array;
  readonly CiphertextBlob?: Uint8Array;
}

/**
 * Calls kms:GenerateDataKey. Injected so the SSM client needs no KMS dependency and tests can use
 * a local stand-in; with the SDK: `(input, signal) => kms.send(new GenerateDataKeyCommand(input), { abortSignal: signal })`.
 */
export type GenerateDataKey = (request: DataKeyRequest, signal?: AbortSignal) => Promise<DataKey>;

const DATA_KEY_BYTES = 64;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The two directions' keys. The client decrypts what the agent sends with bytes 0–31 and
 * encrypts what it sends with bytes 32–63; the agent uses the halves the other way round.
 */
export class SessionCipher {
  private readonly decryptionKey: Buffer;
  private readonly encryptionKey: Buffer;

  constructor(dataKey: Uint8Array) {
    if (dataKey.length !== DATA_KEY_BYTES) throw new RangeError(`The KMS data key has ${dataKey.length} bytes; expected ${DATA_KEY_BYTES}.`);
    const key = Buffer.from(dataKey);
    this.decryptionKey = key.subarray(0, 32);
    this.encryptionKey = key.subarray(32, 64);
  }

  /** nonce(12) ‖ ciphertext ‖ tag(16), no additional data, as Go's GCM Seal writes it. */
  encrypt(plaintext: Buffer): Buffer {
    return sealAesGcm(this.encryptionKey, plaintext);
  }

  decrypt(sealed: Buffer): Buffer {
    return openAesGcm(this.decryptionKey, sealed);
  }

  /** The answer to EncChallengeRequest: the agent's random bytes, re-encrypted with our key. */
  answerChallenge(challengeBase64: string): string {
    return this.encrypt(this.decrypt(Buffer.from(challengeBase64, 'base64'))).toString('base64');
  }
}

export function sealAesGcm(key: Buffer, plaintext: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

export function openAesGcm(key: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new RangeError(`Encrypted payload of ${sealed.length} bytes is too short.`);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
}

/** Who the data key is for; KMS binds it to these through the encryption context. */
export interface SessionIdentity {
  readonly sessionId: string;
  readonly targetId: string;
}

export interface KmsHandshakeResult {
  readonly cipher: SessionCipher;
  /** The ActionResult of the KMSEncryption entry in HandshakeResponse. */
  readonly actionResult: Record<string, unknown>;
}

/**
 * Performs the KMSEncryption action of a HandshakeRequest. The agent decrypts the key with the
 * same encryption context, so it must match exactly: session id, target id and, from agents that
 * send one, the challenge string as received (acknowledged so the agent knows we bound it).
 */
export async function performKmsEncryption(
  parameters: { KMSKeyId: string; Challenge?: string },
  identity: SessionIdentity,
  generateDataKey: GenerateDataKey,
  signal?: AbortSignal,
): Promise<KmsHandshakeResult> {
  const context: Record<string, string> = {
    'aws:ssm:SessionId': identity.sessionId,
    'aws:ssm:TargetId': identity.targetId,
  };
  if (parameters.Challenge) context['aws:ssm:RandomChallenge'] = parameters.Challenge;
  const key = await generateDataKey({ KeyId: parameters.KMSKeyId, NumberOfBytes: DATA_KEY_BYTES, EncryptionContext: context }, signal);
  if (!key.Plaintext || !key.CiphertextBlob) throw new Error('KMS GenerateDataKey returned no key.');
  return {
    cipher: new SessionCipher(key.Plaintext),
    actionResult: {
      KMSCipherTextKey: Buffer.from(key.CiphertextBlob).toString('base64'),
      KMSCipherTextHash: null,
      ...(parameters.Challenge && { ChallengeAcknowledgement: true }),
    },
  };
}
