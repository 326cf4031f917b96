import type { Kysely } from 'kysely';
import type { Database } from './schema';

/** Every kind of change the log records. */
export type AuditEvent =
  | 'settings.update'
  | 'settings.replace'
  | 'settings.delete'
  | 'deployment.create'
  | 'deployment.cancel'
  | 'deployment.approve'
  | 'deployment.reject'
  | 'stack.create'
  | 'stack.pause'
  | 'stack.resume'
  | 'organization.pause'
  | 'organization.resume'
  | 'token.create'
  | 'token.revoke'
  | 'schedule.create'
  | 'schedule.update'
  | 'schedule.delete'
  | 'schedule.pause'
  | 'schedule.resume'
  | 'deployment_ttl_warning'
  | 'deployment_ttl_destroy_failed'
  | 'stack.remove'
  | 'hook.create'
  | 'hook.update'
  | 'hook.delete'
  | 'dependent.create'
  | 'dependent.delete'
  | 'chain.cancel'
  | 'cache.clear';

/** One change: who (actor, and the token it used), what (event, description), when, to what (target). */
export interface AuditEntry {
  /** The organization changed; null for a change to every organization (a token for all of them). */
  org: string | null;
  event: AuditEvent;
  target: string;
  description: string;
  actor: string;
  /** The token used; null for a change no token asked for (a webhook). */
  tokenId: string | null;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  created: string;
}

export async function recordAudit(db: Kysely<Database>, e: AuditEntry, now = new Date()): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({ created: now.toISOString(), org: e.org, event: e.event, target: e.target, description: e.description, actor: e.actor, token_id: e.tokenId })
    .execute();
}

/** An organization's entries, newest first: its own and those that changed every organization. */
export async function listAudit(db: Kysely<Database>, org: string, o: { page: number; pageSize: number }): Promise<{ entries: AuditRecord[]; total: number }> {
  const scope = db.selectFrom('audit_log').where((eb) => eb.or([eb('org', '=', org), eb('org', 'is', null)]));
  const [rows, count] = await Promise.all([
    scope
      .selectAll()
      .orderBy('id', 'desc')
      .limit(o.pageSize)
      .offset((o.page - 1) * o.pageSize)
      .execute(),
    scope.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    entries: rows.map((r) => ({ id: r.id, created: r.created, org: r.org, event: r.event as AuditEvent, target: r.target, description: r.description, actor: r.actor, tokenId: r.token_id })),
    total: Number(count.n),
  };
}
