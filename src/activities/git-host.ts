import { lookup } from 'node:dns/promises';
import { isForbiddenAddress, repoHost } from '../shared/repo-url';

/** Refuses a repository whose host resolves to a link-local or metadata address (169.254.0.0/16, fd00:ec2::254). */
export async function checkRepoHost(repoURL: string): Promise<void> {
  const host = repoHost(repoURL);
  if (!host) return;
  const addresses = await lookup(host.replace(/^\[|\]$/g, ''), { all: true }).catch(() => []);
  const bad = addresses.find((a) => isForbiddenAddress(a.address));
  if (bad) throw new Error(`fetchSource: ${host} resolves to ${bad.address}, a link-local or metadata address`);
}
