import type { Kysely } from 'kysely';
import type { Database } from './schema';

type ProjectRef = { org: string; project: string };

/**
 * A project's dependency cache generation (as in Pulumi Deployments, stacks of a project share
 * their cache). Cache entries carry the generation they were made in, so clearing (which any API
 * process can do, wherever the workers' caches live) is one increment here: workers ignore and
 * remove entries of older generations.
 */
export async function cacheGeneration(db: Kysely<Database>, p: ProjectRef): Promise<number> {
  const row = await db.selectFrom('project_caches').select('generation').where('org', '=', p.org).where('project', '=', p.project).executeTakeFirst();
  return row?.generation ?? 0;
}

/** Invalidates every cached dependency set of the project. */
export async function clearCache(db: Kysely<Database>, p: ProjectRef, now = new Date()): Promise<void> {
  await db
    .insertInto('project_caches')
    .values({ org: p.org, project: p.project, generation: 1, cleared: now.toISOString() })
    .onConflict((oc) => oc.columns(['org', 'project']).doUpdateSet((eb) => ({ generation: eb('project_caches.generation', '+', 1), cleared: now.toISOString() })))
    .execute();
}

export type CacheLookup = 'hit' | 'miss';

/** Counts one restore attempt of the dependency cache (read by /metrics). */
export async function recordCacheLookup(db: Kysely<Database>, result: CacheLookup): Promise<void> {
  await db
    .insertInto('cache_lookups')
    .values({ result, count: 1 })
    .onConflict((oc) => oc.column('result').doUpdateSet((eb) => ({ count: eb('cache_lookups.count', '+', 1) })))
    .execute();
}

/** Restore attempts of the dependency cache so far, by result. */
export async function cacheLookups(db: Kysely<Database>): Promise<{ result: CacheLookup; count: number }[]> {
  const rows = await db.selectFrom('cache_lookups').select(['result', 'count']).execute();
  return rows.map((r) => ({ result: r.result, count: Number(r.count) }));
}
