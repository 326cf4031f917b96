import type { Kysely } from 'kysely';
import type { StackRef } from '../shared/names';
import type { Database } from './schema';

export type PassphraseScheme = 'shared' | 'derived';

/**
 * The passphrase scheme a stack uses, recorded on first use: stacks that existed before per-stack
 * passphrases were recorded 'shared' by the migration; every other stack gets its own.
 */
export async function passphraseScheme(db: Kysely<Database>, s: StackRef): Promise<PassphraseScheme> {
  const key = { org: s.org, project: s.project, stack: s.stack };
  await db
    .insertInto('stack_pulumi_keys')
    .values({ ...key, scheme: 'derived' })
    .onConflict((oc) => oc.columns(['org', 'project', 'stack']).doNothing())
    .execute();
  const row = await db.selectFrom('stack_pulumi_keys').select('scheme').where('org', '=', s.org).where('project', '=', s.project).where('stack', '=', s.stack).executeTakeFirstOrThrow();
  return row.scheme === 'shared' ? 'shared' : 'derived';
}
