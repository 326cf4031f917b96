import type { StackRef } from '../shared/names';

/** The columns that name a stack, for `eb.and(...)` and inserts. */
export const stackColumns = (s: StackRef) => ({ org: s.org, project: s.project, stack: s.stack });

/** SQLite's and PostgreSQL's ways of saying a unique key was violated. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === '23505';
}

/** Each aggregate's clock: ISO-8601 timestamps, so SQLite and PostgreSQL store them alike. */
export type Clock = () => Date;
