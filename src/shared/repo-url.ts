import type { Issue } from './settings';

// Kept free of Node built-ins: the API and the workers both use it. Host names are resolved (and
// checked again) by the worker right before it fetches (src/activities/git-host.ts).

/** Cloud metadata services and other link-local addresses are never a repository. */
export function isForbiddenAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (/^169\.254\.\d+\.\d+$/.test(h)) return true;
  if (/^fe[89ab][0-9a-f]?:/.test(h)) return true; // fe80::/10
  if (/^fd00:ec2:(0*:)*:?0*254$/.test(h) || h === 'fd00:ec2::254') return true;
  return h === 'metadata.google.internal' || h === 'metadata';
}

/** The host a repository URL points at, or undefined for local paths. */
export function repoHost(url: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/?#]+)/i.exec(url);
  if (m) return m[1];
  const scp = /^(?:[^@/:]+@)?(\[[^\]]+\]|[^/:]+):/.exec(url);
  return scp ? scp[1] : undefined;
}

/**
 * Why git must not fetch `url`, if it must not: only https, http, ssh and scp-like URLs, local
 * paths and file:// only when allowed, never a transport helper (ext::, fd::, …).
 */
export function repoUrlProblem(url: string, allowLocal: boolean): string | undefined {
  if (/^[a-z][a-z0-9+.-]*::/i.test(url)) return 'git transport helpers (such as ext:: and fd::) are not allowed';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1].toLowerCase();
  const local = 'local repositories are allowed only with STACKWRIGHT_ALLOW_LOCAL_REPOS=true';
  if (scheme === 'file') return allowLocal ? undefined : local;
  if (scheme && !['https', 'http', 'ssh', 'git+ssh', 'ssh+git'].includes(scheme)) return `the ${scheme}:// transport is not allowed (use https or ssh)`;
  const host = repoHost(url);
  if (!scheme && (!host || url.startsWith('/') || url.startsWith('.'))) return allowLocal ? undefined : local;
  if (host && isForbiddenAddress(host)) return `${host} is a link-local or metadata address`;
  return undefined;
}

export const repoUrlIssues = (repoURL: string | null | undefined, allowLocal: boolean): Issue[] => {
  const problem = repoURL ? repoUrlProblem(repoURL, allowLocal) : undefined;
  return problem ? [{ path: ['sourceContext', 'git', 'repoURL'], message: problem }] : [];
};

type GitSettings = { repoURL?: string | null; gitAuth?: Record<string, unknown> | null } & Record<string, unknown>;

/**
 * Credentials written into an https URL (https://user:token@host/...) are moved into gitAuth, to be
 * sealed with the other secrets, so that the URL itself (logged, shown, passed around) holds none.
 */
export function moveUrlCredentials<T extends { sourceContext?: { git?: GitSettings | null } | null }>(settings: T): T {
  const git = settings.sourceContext?.git;
  const m = git?.repoURL ? /^(https?:\/\/)([^@/]*)@(.*)$/i.exec(git.repoURL) : null;
  if (!git || !m) return settings;
  const [user, ...rest] = m[2].split(':');
  const password = rest.join(':');
  const repoURL = `${m[1]}${m[3]}`;
  const gitAuth = password && !git.gitAuth
    ? { basicAuth: { userName: decodeURIComponent(user), password: { secret: decodeURIComponent(password) } } }
    : git.gitAuth;
  return { ...settings, sourceContext: { ...settings.sourceContext, git: { ...git, repoURL: password ? repoURL : git.repoURL, gitAuth } } };
}
