import type { DeploymentSettings } from '../shared/settings';

export type VcsProvider = 'github' | 'gitlab' | 'custom';

/**
 * The form a repository is indexed and looked up by. GitHub and GitLab paths (owner/repo,
 * group/subgroup/project) compare case-insensitively, as both services resolve them; custom VCS
 * repositories are URLs, compared without a trailing slash or `.git`, with the scheme and host
 * lower-cased (the path may be case-sensitive on the server, so it is kept).
 */
export function normalizeRepository(provider: VcsProvider, repository: string): string {
  const trimmed = repository.trim().replace(/\/+$/, '').replace(/\.git$/i, '');
  if (provider !== 'custom') return trimmed.replace(/^\/+/, '').toLowerCase();
  try {
    const u = new URL(trimmed);
    // URL lower-cases scheme and host; credentials never belong in the key.
    u.username = '';
    u.password = '';
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '').replace(/\.git$/i, '')}`;
  } catch {
    return trimmed; // scp-like (git@host:path) or a local path
  }
}

export interface RepositoryKey {
  provider: VcsProvider;
  repository: string;
}

/** The trigger flags and filters of a `gitHub` or `vcs` block. */
export interface VcsBlock {
  deployCommits?: boolean;
  previewPullRequests?: boolean;
  deployTags?: boolean;
  paths?: string[];
  tagFilters?: string[];
}

/** Each VCS block of the settings with the repository it names. */
function blocksOf(s: DeploymentSettings): { key: RepositoryKey; block: VcsBlock }[] {
  const out: { key: RepositoryKey; block: VcsBlock }[] = [];
  const vcs = s.vcs as (VcsBlock & { provider?: string; repository?: string }) | undefined;
  if (vcs?.provider === 'github' || vcs?.provider === 'gitlab' || vcs?.provider === 'custom') {
    // A custom VCS is known by its URL: the `repository` when it is one, else the clone URL.
    const repo =
      vcs.provider === 'custom' ? (vcs.repository && /:\/\//.test(vcs.repository) ? vcs.repository : s.sourceContext?.git?.repoURL) : vcs.repository;
    if (repo) out.push({ key: { provider: vcs.provider, repository: normalizeRepository(vcs.provider, repo) }, block: vcs });
  }
  const gitHub = s.gitHub as (VcsBlock & { repository?: string }) | undefined;
  if (gitHub?.repository) out.push({ key: { provider: 'github', repository: normalizeRepository('github', gitHub.repository) }, block: gitHub });
  return out;
}

const sameKey = (a: RepositoryKey, b: RepositoryKey) => a.provider === b.provider && a.repository === b.repository;

/** The repositories whose events may deploy a stack with these settings (what the store indexes). */
export function repositoryKeysOf(s: DeploymentSettings): RepositoryKey[] {
  const keys = blocksOf(s).map((b) => b.key);
  return keys.filter((k, i) => keys.findIndex((o) => sameKey(o, k)) === i);
}

/** The block that names this repository; `vcs`, the newer one, wins over `gitHub`. */
export function vcsBlockFor(s: DeploymentSettings, key: RepositoryKey): VcsBlock | undefined {
  return blocksOf(s).find((b) => sameKey(b.key, key))?.block;
}
