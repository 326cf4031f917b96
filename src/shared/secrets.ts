import { z } from 'zod';

/**
 * A value that may be secret. Requests may send a plain string, `{ secret }`, `{ isSecret, value }`
 * or an already sealed `{ ciphertext }`; stored settings hold only strings and `{ ciphertext }`.
 */
export const SecretInput = z.union([
  z.string(),
  z.object({ secret: z.string() }).strict(),
  z.object({ ciphertext: z.string().min(1) }).strict(),
  z.object({ isSecret: z.boolean(), value: z.string() }).strict(),
]);
export type SecretInput = z.infer<typeof SecretInput>;

export interface Sealed {
  ciphertext: string;
}
export type StoredValue = string | Sealed;

export const isSealed = (v: unknown): v is Sealed =>
  typeof v === 'object' && v !== null && typeof (v as Sealed).ciphertext === 'string' && Object.keys(v).length === 1;

type Json = unknown;

/**
 * Walks settings JSON and seals every secret with `encrypt`. Values at `alwaysSecret` keys
 * (credentials) are sealed even when sent as plain strings.
 */
export function sealSecrets<T>(value: T, encrypt: (plain: string) => string, alwaysSecret = false): T {
  const walk = (v: Json, secret: boolean): Json => {
    if (typeof v === 'string') return secret ? { ciphertext: encrypt(v) } : v;
    if (Array.isArray(v)) return v.map((x) => walk(x, false));
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, Json>;
    const keys = Object.keys(o);
    if (keys.length === 1 && typeof o.secret === 'string') return { ciphertext: encrypt(o.secret) };
    if (isSealed(o)) return o;
    if (keys.length === 2 && typeof o.isSecret === 'boolean' && typeof o.value === 'string') {
      return o.isSecret || secret ? { ciphertext: encrypt(o.value) } : o.value;
    }
    return Object.fromEntries(keys.map((k) => [k, walk(o[k], CREDENTIAL_KEYS.has(k))]));
  };
  return walk(value, alwaysSecret) as T;
}

/** Replaces every `{ ciphertext }` with its plaintext, via `decrypt`. */
export function openSecrets<T>(value: T, decrypt: (ciphertext: string) => string): T {
  const walk = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    if (isSealed(v)) return decrypt(v.ciphertext);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
  };
  return walk(value) as T;
}

// Fields that are credentials whatever form they arrive in.
const CREDENTIAL_KEYS = new Set(['accessToken', 'password', 'sshPrivateKey']);

/** Sealed values in a request that this server did not seal (they would fail at deployment time). */
export function foreignCiphertexts(value: unknown, decrypt: (ciphertext: string) => string): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const walk = (v: Json, path: (string | number)[]) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (isSealed(v)) {
      try {
        decrypt(v.ciphertext);
      } catch {
        out.push({ path: [...path, 'ciphertext'], message: 'not a ciphertext of this server: send the secret as {"secret": "..."} or encrypt it with .../deployments/settings/encrypt' });
      }
    } else if (v !== null && typeof v === 'object') Object.entries(v).forEach(([k, x]) => walk(x, [...path, k]));
  };
  walk(value, []);
  return out;
}
