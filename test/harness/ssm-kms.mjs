// A local stand-in for AWS KMS GenerateDataKey/Decrypt, for tests of Session Manager's KMS
// encryption. The "ciphertext blob" is the data key sealed with a master key under AES-256-GCM
// with the encryption context as additional data, so, as with real KMS, decrypting with any other
// context fails.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** @param {Record<string, string>} context */
function contextBytes(context) {
  return Buffer.from(JSON.stringify(Object.keys(context).sort().map((k) => [k, context[k]])));
}

export function createLocalKms({ keyId = 'arn:aws:kms:us-east-1:000000000000:key/local-test-key', masterKey = randomBytes(32) } = {}) {
  /** Requests seen, without the key material, for tests to inspect. */
  const requests = [];
  return {
    keyId,
    requests,
    /** Same shape as KMS GenerateDataKey: { KeyId, NumberOfBytes, EncryptionContext } → { Plaintext, CiphertextBlob }. */
    async generateDataKey({ KeyId, NumberOfBytes, EncryptionContext }) {
      requests.push({ KeyId, NumberOfBytes, EncryptionContext: { ...EncryptionContext } });
      if (KeyId !== keyId) throw Object.assign(new Error(`Key ${KeyId} does not exist.`), { name: 'NotFoundException' });
      const plaintext = randomBytes(NumberOfBytes);
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', masterKey, nonce);
      cipher.setAAD(contextBytes(EncryptionContext));
      const sealed = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return { KeyId, Plaintext: new Uint8Array(plaintext), CiphertextBlob: new Uint8Array(sealed) };
    },
    /** @param {{ CiphertextBlob: Uint8Array, EncryptionContext: Record<string, string> }} input */
    decrypt({ CiphertextBlob, EncryptionContext }) {
      const blob = Buffer.from(CiphertextBlob);
      const decipher = createDecipheriv('aes-256-gcm', masterKey, blob.subarray(0, 12));
      decipher.setAAD(contextBytes(EncryptionContext));
      decipher.setAuthTag(blob.subarray(blob.length - 16));
      try {
        return { Plaintext: Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]) };
      } catch {
        throw Object.assign(new Error('InvalidCiphertextException'), { name: 'InvalidCiphertextException' });
      }
    },
  };
}
