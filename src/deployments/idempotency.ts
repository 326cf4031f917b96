/** Idempotency-Key: printable ASCII, as clients generate (UUIDs, request ids). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The same key was sent with a different request: answering with the first deployment would be wrong. */
export class IdempotencyConflict extends Error {
  constructor(readonly key: string, readonly deploymentId: string) {
    super(`Idempotency-Key '${key}' was already used for a different request on this stack (deployment ${deploymentId}); use a new key for a new request`);
  }
}

/** A fingerprint of what a request asks, independent of the order of its JSON object keys. */
export function requestHash(request: unknown, mac: (text: string) => string): string {
  return mac(canonicalJson(request));
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
