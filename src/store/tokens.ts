import type { Kysely, Selectable } from 'kysely';
import type { Database } from './schema';
import type { Identity, Role } from '../shared/identity';

/** An API token as listed: never its value, which only its creator saw. */
export interface TokenRecord extends Identity {
  created: string;
  /** Name of the token that created it. */
  createdBy: string;
  expiresAt: string | null;
}

export interface NewToken extends Omit<TokenRecord, 'created'> {
  /** SHA-256 of the value, hex. */
  hash: string;
}

type Row = Selectable<Database['api_tokens']>;
const record = (r: Row): TokenRecord => ({
  id: r.id,
  name: r.name,
  role: r.role as Role,
  organization: r.org,
  created: r.created,
  createdBy: r.created_by,
  expiresAt: r.expires,
});

/** Stores a token; undefined when its name is taken. */
export async function insertToken(db: Kysely<Database>, t: NewToken, now = new Date()): Promise<TokenRecord | undefined> {
  const nameTaken = () => db.selectFrom('api_tokens').select('id').where('name', '=', t.name).executeTakeFirst();
  if (await nameTaken()) return undefined;
  const row: Row = {
    id: t.id,
    name: t.name,
    role: t.role,
    org: t.organization,
    hash: t.hash,
    created: now.toISOString(),
    created_by: t.createdBy,
    expires: t.expiresAt,
  };
  try {
    await db.insertInto('api_tokens').values(row).execute();
  } catch (err) {
    // Another request took the name in between: the unique constraint refused this one.
    if (await nameTaken()) return undefined;
    throw err;
  }
  return record(row);
}

/** A token with the hash its value must match. */
export async function findToken(db: Kysely<Database>, id: string): Promise<(TokenRecord & { hash: string }) | undefined> {
  const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  return row && { ...record(row), hash: row.hash };
}

/** Tokens by name; with an organization, only the tokens scoped to it. */
export async function listTokens(db: Kysely<Database>, organization?: string): Promise<TokenRecord[]> {
  let q = db.selectFrom('api_tokens').selectAll().orderBy('name');
  if (organization !== undefined) q = q.where('org', '=', organization);
  return (await q.execute()).map(record);
}

/** Deletes a token at once: the next request carrying it finds nothing. */
export async function deleteToken(db: Kysely<Database>, id: string): Promise<boolean> {
  const r = await db.deleteFrom('api_tokens').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
