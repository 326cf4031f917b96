/**
 * Pulumi Deployments' settings patch rules: objects merge key by key, a null removes the key,
 * anything else (strings, arrays) replaces. `vcs` is replaced whole, as the service does.
 */
export function mergeSettings<T extends object>(current: T | undefined, patch: object): T {
  return mergeObject((current ?? {}) as Record<string, unknown>, patch as Record<string, unknown>, true) as T;
}

/** Removes null-valued keys everywhere, for a replace (PUT) or a first write. */
export function stripNulls<T>(value: T): T {
  return mergeObject({}, value as Record<string, unknown>, true) as T;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const WHOLE = new Set(['vcs']);

function mergeObject(cur: Record<string, unknown>, patch: Record<string, unknown>, top: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cur };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) delete out[k];
    else if (isObject(v) && !(top && WHOLE.has(k)) && !isLeafObject(v)) {
      out[k] = mergeObject(isObject(out[k]) ? (out[k] as Record<string, unknown>) : {}, v, false);
    } else out[k] = isObject(v) ? mergeObject({}, v, false) : v;
  }
  return out;
}

// Secret values ({secret}, {ciphertext}) replace rather than merge.
const isLeafObject = (v: Record<string, unknown>) => 'secret' in v || 'ciphertext' in v || 'isSecret' in v;
