import type { Kysely } from 'kysely';
import type { Database } from './schema';

/** Organizations Stackwright knows: those with a stack's settings or a deployment. */
export async function knownOrganizations(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .selectFrom('stack_settings')
    .select('org')
    .union(db.selectFrom('deployments').select('org'))
    .execute();
  return rows.map((r) => r.org).sort();
}
