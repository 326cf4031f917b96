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
