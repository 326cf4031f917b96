import type { Kysely } from 'kysely';
import type { Database } from './store/schema';
import { SecretBox } from './secret-box';
import { ConfigError } from './config';

const CHECK = 'stackwright secrets key check';

/**
 * Every role of an installation must seal and open secrets with the same key. The first role to
 * start seals a known value; a role whose key cannot open it refuses to start, before it could
 * fail on (or, worse, write) secrets nobody else can read.
 */
export async function checkSecretsKey(db: Kysely<Database>, key: Buffer): Promise<void> {
  const box = new SecretBox(key);
  await db
    .insertInto('secrets_key_check')
    .values({ id: 'key', sealed: box.encrypt(CHECK), created: new Date().toISOString() })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  const row = await db.selectFrom('secrets_key_check').select(['sealed', 'created']).where('id', '=', 'key').executeTakeFirstOrThrow();
  let opened: string | undefined;
  try {
    opened = box.decrypt(row.sealed);
  } catch {
    opened = undefined;
  }
  if (opened !== CHECK) {
    throw new ConfigError(
      `STACKWRIGHT_SECRETS_KEY cannot open the secrets stored in this database (sealed since ${row.created} with another key). ` +
        'Every API and worker process of one installation must be given the same key.',
    );
  }
}
