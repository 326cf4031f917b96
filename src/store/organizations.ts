import type { Kysely } from 'kysely';
import type { Database } from './schema';

/** Every organization Stackwright knows of: those with stack settings or deployments, sorted. */
export async function knownOrganizations(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .selectFrom('stack_settings')
    .select('org')
    .union(db.selectFrom('deployments').select('org'))
    .execute();
  return [...new Set(rows.map((r) => r.org))].sort();
}
