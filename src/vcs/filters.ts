import { minimatch } from 'minimatch';

/**
 * Path and tag filters as Pulumi Deployments evaluates them: each glob must match the whole value,
 * `*` stays inside one path segment and `**` spans any number; a leading `!` excludes. A value
 * passes when it matches an include (or there are none) and no exclude: exclude always wins and,
 * unlike .gitignore, order does not matter and nothing re-includes an excluded value.
 */
export function filterMatches(filters: readonly string[] | undefined, value: string): boolean {
  if (!filters?.length) return true;
  const includes = filters.filter((f) => !f.startsWith('!'));
  const excludes = filters.filter((f) => f.startsWith('!')).map((f) => f.slice(1));
  // dot: dotfiles (.github/workflows/...) are paths like any other; nonegate: '!' is handled here.
  const match = (globs: string[]) => globs.some((g) => minimatch(value, g, { dot: true, nonegate: true, nocomment: true }));
  return (includes.length === 0 || match(includes)) && !match(excludes);
}

/**
 * Whether a push touching `changedFiles` should deploy. Without a list (the sender did not say)
 * the filters are skipped, as Pulumi's custom VCS protocol specifies.
 */
export function pathsTrigger(filters: readonly string[] | undefined, changedFiles: readonly string[] | undefined): boolean {
  if (!filters?.length || changedFiles === undefined) return true;
  return changedFiles.some((f) => filterMatches(filters, f));
}
