import type { Context } from 'hono';
import type { Logger } from 'pino';
import { recordAudit, type AuditEntry } from '../store/audit';
import type { Store } from '../store/store';
import { stackKey, type StackRef } from '../shared/names';

type AuditDeps = { store: Store; log: Logger };

/**
 * Records a change made by the request's token. Called once the change is made: a failure to record
 * it is logged rather than answered, since the change itself stands (a retried request would repeat it).
 */
export async function audit(c: Context, deps: AuditDeps, e: Omit<AuditEntry, 'actor' | 'tokenId'>): Promise<void> {
  const who = c.get('identity');
  await recordChange(deps, { ...e, actor: who.name, tokenId: who.id });
}

/** How entries name a deployment. */
export const deploymentTarget = (ref: StackRef, id: string) => `${stackKey(ref)}/deployments/${id}`;

export async function recordChange(deps: AuditDeps, e: AuditEntry): Promise<void> {
  try {
    await recordAudit(deps.store.db, e);
  } catch (err) {
    deps.log.error({ err, audit: e }, 'could not record a change in the audit log');
  }
}
