import type { Kysely } from 'kysely';
import type { Database } from './schema';

export interface OidcKeyRow {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  /** Sealed: only the worker that signs opens it. */
  sealedPrivateJwk: string;
  created: string;
  publishUntil: string;
}

const toRow = (r: Database['oidc_keys']): OidcKeyRow => ({
  kid: r.kid,
  alg: r.alg,
  publicJwk: JSON.parse(r.public_jwk) as Record<string, unknown>,
  sealedPrivateJwk: r.private_jwk,
  created: r.created,
  publishUntil: r.publish_until,
});

/** The signing keys of deployments' OIDC tokens, shared by every API and worker process. */
export class OidcKeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** The newest key: the one that signs. */
  async newest(): Promise<OidcKeyRow | undefined> {
    const r = await this.db.selectFrom('oidc_keys').selectAll().orderBy('created', 'desc').orderBy('kid').limit(1).executeTakeFirst();
    return r && toRow(r);
  }

  async add(k: OidcKeyRow): Promise<void> {
    await this.db
      .insertInto('oidc_keys')
      .values({ kid: k.kid, alg: k.alg, public_jwk: JSON.stringify(k.publicJwk), private_jwk: k.sealedPrivateJwk, created: k.created, publish_until: k.publishUntil })
      .execute();
  }

  /** Keeps a key published at least until `until` (ISO), the expiry of a token it signed. */
  async publishUntil(kid: string, until: string): Promise<void> {
    await this.db.updateTable('oidc_keys').set({ publish_until: until }).where('kid', '=', kid).where('publish_until', '<', until).execute();
  }

  /** Keys a verifier may still meet: the newest, and every key whose tokens may not have expired yet. */
  async published(now: string): Promise<OidcKeyRow[]> {
    const newest = await this.newest();
    const rows = await this.db.selectFrom('oidc_keys').selectAll().where('publish_until', '>', now).orderBy('created', 'desc').execute();
    const keys = rows.map(toRow);
    return newest && !keys.some((k) => k.kid === newest.kid) ? [newest, ...keys] : keys;
  }

  /** Drops keys that are neither signing nor published any more. */
  async prune(now: string, keep: string): Promise<void> {
    await this.db.deleteFrom('oidc_keys').where('publish_until', '<=', now).where('kid', '!=', keep).execute();
  }
}
