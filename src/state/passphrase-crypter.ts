import { createDecipheriv, createHash, pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';

const derive = promisify(pbkdf2);

/**
 * Opens values sealed by Pulumi's passphrase secrets provider (the one deployments use): AES-256-GCM
 * with a key derived by PBKDF2-SHA256 (1,000,000 rounds) from the passphrase and the salt kept in
 * the checkpoint (`secrets_providers.state.salt` = `v1:<salt>:<check>`); values are
 * `v1:<nonce>:<ciphertext and tag>`, base64. Derived keys are cached: a derivation takes a second.
 */
export class PassphraseCrypter {
  private readonly keys = new Map<string, Promise<Buffer>>();

  async decrypt(passphrase: string, saltState: string, value: string): Promise<string> {
    const [version, nonce, data] = value.split(':');
    if (version !== 'v1' || !nonce || !data) throw new Error('not a passphrase-encrypted value');
    const key = await this.key(passphrase, saltState);
    const raw = Buffer.from(data, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64'));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(0, raw.length - 16)), decipher.final()]).toString('utf8');
  }

  private key(passphrase: string, saltState: string): Promise<Buffer> {
    const [version, salt] = saltState.split(':');
    if (version !== 'v1' || !salt) throw new Error('not a passphrase secrets provider state');
    const id = createHash('sha256').update(`${passphrase}\0${salt}`).digest('base64');
    let key = this.keys.get(id);
    if (!key) {
      if (this.keys.size > 100) this.keys.clear();
      key = derive(passphrase, Buffer.from(salt, 'base64'), 1_000_000, 32, 'sha256');
      this.keys.set(id, key);
    }
    return key;
  }
}
