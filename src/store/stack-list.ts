import type { Kysely } from 'kysely';
import type { StackRef } from '../shared/names';
import type { Database } from './schema';

/** The stacks of an organization: those with settings or deployments, sorted by project and stack. */
export async function listStacks(db: Kysely<Database>, org: string): Promise<StackRef[]> {
  const rows = await db
    .selectFrom('stack_settings')
    .select(['org', 'project', 'stack'])
    .where('org', '=', org)
    .union(db.selectFrom('deployments').select(['org', 'project', 'stack']).where('org', '=', org))
    .execute();
  return rows.sort((a, b) => a.project.localeCompare(b.project) || a.stack.localeCompare(b.stack));
}
