import type { StackRef } from '../shared/names';

// Pulumi marks a secret value in state with this signature key.
const SECRET_SIG = '4dabf18193072939515e22adb298388d';

/**
 * A checkpoint as Pulumi's CLI can read it from this server: deployments seal state secrets with
 * the stack's passphrase, which the CLI of a Stackwright user does not have. The export names the
 * "service" secrets provider instead (the CLI then asks this server's `.../decrypt` routes) and
 * carries each ciphertext as that provider expects it: base64 of the passphrase ciphertext text.
 * Returns the passphrase provider's salt state, which decryption needs.
 */
export function asServiceSecrets(deployment: Record<string, unknown>, ref: StackRef, serverUrl: string): { deployment: Record<string, unknown>; salt?: string } {
  const providers = deployment.secrets_providers as { type?: string; state?: { salt?: string } } | undefined;
  if (providers?.type !== 'passphrase') return { deployment };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] !== undefined && typeof o.ciphertext === 'string') return { ...o, ciphertext: Buffer.from(o.ciphertext).toString('base64') };
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
  };
  const out = walk(deployment) as Record<string, unknown>;
  out.secrets_providers = { type: 'service', state: { url: serverUrl, owner: ref.org, project: ref.project, stack: ref.stack } };
  return { deployment: out, salt: providers.state?.salt };
}
