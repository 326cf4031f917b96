import type { Kysely } from 'kysely';
import type { Database } from './schema';

export interface RunnerPoolRecord {
  name: string;
  created: string;
  lastStarted: string;
}

/** A pool worker starting: the pool exists from its first worker on. */
export async function recordPoolWorkerStart(db: Kysely<Database>, name: string): Promise<void> {
  const now = new Date().toISOString();
  await db
    .insertInto('runner_pools')
    .values({ name, created: now, last_started: now })
    .onConflict((oc) => oc.column('name').doUpdateSet({ last_started: now }))
    .execute();
}

export async function listRunnerPools(db: Kysely<Database>): Promise<RunnerPoolRecord[]> {
  const rows = await db.selectFrom('runner_pools').selectAll().orderBy('name').execute();
  return rows.map((r) => ({ name: r.name, created: r.created, lastStarted: r.last_started }));
}
