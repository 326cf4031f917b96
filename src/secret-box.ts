import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/** AES-256-GCM for secrets at rest. Ciphertext format: `v1:<base64 iv|tag|data>`. */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the secrets key must be 32 bytes');
  }

  encrypt = (plain: string): string => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64')}`;
  };

  /** A keyed digest: stored fingerprints of requests holding secrets cannot be guessed offline. */
  mac = (text: string): string => createHmac('sha256', this.key).update(text).digest('hex');

  decrypt = (ciphertext: string): string => {
    const raw = Buffer.from(ciphertext.replace(/^v1:/, ''), 'base64');
    if (!ciphertext.startsWith('v1:') || raw.length < 28) throw new Error('not a Stackwright ciphertext');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  };
}
