import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

const ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';

export interface CodecKey {
  id: string;
  key: Buffer;
}

const derive = (master: Buffer, purpose: string) => Buffer.from(hkdfSync('sha256', master, 'stackwright', purpose, 32));
const keyId = (key: Buffer) => `k-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;

/**
 * The payload keys: those of STACKWRIGHT_CODEC_KEYS (`id=base64key`, comma-separated, the first
 * encrypts) and always the one derived from the secrets key. Rotation: put a new key first; keep
 * the old ones as long as histories written with them must be read.
 */
export function codecKeys(master: Buffer, extra = ''): CodecKey[] {
  const listed = extra
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => {
      const [id, b64] = e.split('=', 2);
      return { id, key: Buffer.from(b64 ?? '', 'base64') };
    });
  const derived = derive(master, 'temporal-payloads');
  return [...listed, { id: keyId(derived), key: derived }];
}

/** The token in the codec path given to the Temporal UI: derived, so it is not the API token. */
export const codecPathToken = (master: Buffer): string => derive(master, 'codec-endpoint').toString('base64url');

/**
 * AES-256-GCM over each whole payload (metadata included), key id in the outer metadata. Payloads
 * without it (histories written before encryption) pass through, so they still replay.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: CodecKey[]) {
    if (keys.length === 0 || keys.some((k) => k.key.length !== 32 || !k.id)) throw new Error('codec keys must be 32 bytes with an id');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keys[0];
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const data = Buffer.concat([cipher.update(plain), cipher.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCODING), [KEY_ID]: Buffer.from(id) },
        data: Buffer.concat([iv, cipher.getAuthTag(), data]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCODING) return p;
      const id = Buffer.from(p.metadata?.[KEY_ID] ?? []).toString();
      const key = this.byId.get(id);
      if (!key) throw new Error(`payload encrypted with unknown key ${id}`);
      const raw = Buffer.from(p.data ?? []);
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const plain = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

/** The data converter of every Stackwright client and worker. */
export const dataConverter = (keys: CodecKey[]) => ({ payloadCodecs: [new EncryptionCodec(keys)] });
