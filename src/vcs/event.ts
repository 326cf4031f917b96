import type { RepositoryKey } from './repository';

/** A git event, whatever service sent it, reduced to what decides and runs deployments. */
export type VcsEvent = PushEvent | TagEvent | PullRequestEvent;

interface Common {
  repo: RepositoryKey;
  /** As the sender spells it, for reporting back (owner/repo, group/project or the URL). */
  repository: string;
  /** Where the sender says the repository can be cloned; stored settings' repoURL wins. */
  cloneUrl?: string;
  /** The repository's default branch, for stacks whose settings name no branch. */
  defaultBranch?: string;
  commit: string;
  sender?: string;
}

export interface PushEvent extends Common {
  event: 'push';
  branch: string;
  /** undefined when the sender does not say (path filters are then skipped). */
  changedFiles?: string[];
}

export interface TagEvent extends Common {
  event: 'tag';
  tag: string;
}

export interface PullRequestEvent extends Common {
  event: 'pull_request';
  number: number;
  /** The branch the pull request merges into. */
  baseBranch: string;
  headBranch?: string;
  /** Fetched from the API when a stack has path filters; undefined when unknown (filters are then skipped). */
  changedFiles?: string[];
}

/** A delivery that is well-formed but asks for nothing (a ping, a deleted branch, a closed pull request). */
export interface Ignored {
  ignored: string;
}

export const ignored = (why: string): Ignored => ({ ignored: why });
export const isIgnored = (e: VcsEvent | Ignored): e is Ignored => 'ignored' in e;

export const stripRef = (ref: string, prefix: 'refs/heads/' | 'refs/tags/') => (ref.startsWith(prefix) ? ref.slice(prefix.length) : undefined);

/** Files a push touched, from per-commit added/modified/removed lists. */
export function changedFilesOf(commits: { added?: string[]; modified?: string[]; removed?: string[] }[]): string[] {
  return [...new Set(commits.flatMap((c) => [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])]))];
}
