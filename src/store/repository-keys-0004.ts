// A copy of src/vcs/repository.ts's repositoryKeysOf as it was when migration 0004_vcs was released.
// Released migrations must not call live code: a later change to the live function must not change
// what an old database is migrated to. Never edit this file.

interface Key {
  provider: 'github' | 'gitlab' | 'custom';
  repository: string;
}

function normalize(provider: Key['provider'], repository: string): string {
  const trimmed = repository.trim().replace(/\/+$/, '').replace(/\.git$/i, '');
  if (provider !== 'custom') return trimmed.replace(/^\/+/, '').toLowerCase();
  try {
    const u = new URL(trimmed);
    u.username = '';
    u.password = '';
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '').replace(/\.git$/i, '')}`;
  } catch {
    return trimmed;
  }
}

/** The repositories a stack's settings (parsed JSON) name, as 0004_vcs indexed them. */
export function repositoryKeysAt0004(s: { vcs?: unknown; gitHub?: unknown; sourceContext?: { git?: { repoURL?: string } } }): Key[] {
  const out: Key[] = [];
  const vcs = s.vcs as { provider?: string; repository?: string } | undefined;
  if (vcs?.provider === 'github' || vcs?.provider === 'gitlab' || vcs?.provider === 'custom') {
    const repo =
      vcs.provider === 'custom' ? (vcs.repository && /:\/\//.test(vcs.repository) ? vcs.repository : s.sourceContext?.git?.repoURL) : vcs.repository;
    if (repo) out.push({ provider: vcs.provider, repository: normalize(vcs.provider, repo) });
  }
  const gitHub = s.gitHub as { repository?: string } | undefined;
  if (gitHub?.repository) out.push({ provider: 'github', repository: normalize('github', gitHub.repository) });
  return out.filter((k, i) => out.findIndex((o) => o.provider === k.provider && o.repository === k.repository) === i);
}
