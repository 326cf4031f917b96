import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { verify } from '@octokit/webhooks-methods';

/** GitHub's X-Hub-Signature-256 (`sha256=<hex HMAC-SHA256>` of the raw body). */
export async function verifyGitHub(secret: string, rawBody: string, header: string | undefined): Promise<boolean> {
  if (!header?.startsWith('sha256=') || !rawBody) return false;
  // The library compares in constant time; it throws on a malformed signature.
  return verify(secret, rawBody, header).catch(() => false);
}

/** GitLab sends the configured token itself in X-Gitlab-Token. */
export function verifyGitLab(token: string, header: string | undefined): boolean {
  if (header === undefined) return false;
  // Comparing digests keeps the comparison constant-time even when the lengths differ.
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(token), digest(header));
}

/** Pulumi's custom VCS protocol: X-Generic-VCS-Signature `v1=<hex HMAC-SHA256(secret, raw body)>`. */
export function verifyGenericVcs(secret: string, rawBody: Buffer, header: string | undefined): boolean {
  const m = /^v1=([0-9a-f]{64})$/i.exec(header?.trim() ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(m[1], 'hex'));
}

/** The header value a sender computes (used by tests and documented in the README). */
export const signGenericVcs = (secret: string, rawBody: string | Buffer): string => `v1=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
