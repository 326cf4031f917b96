import type { Store } from '../store/store';
import type { DeploymentStatus } from '../shared/deployment';
import { ACTIVE, isFinal, movesTo, WAITING } from './status';

// The one place that changes a deployment's status. Each write names the statuses it may move from
// (status.ts) and the store refuses to leave a final status, so a late, repeated or concurrent
// write (an activity retried after its deployment ended, the reconciler, a cancel) changes nothing.
// Each returns whether it moved the deployment.

/** Records the outcome; steps still open close with it. */
export async function finish(store: Store, id: string, status: DeploymentStatus, message?: string): Promise<boolean> {
  if (!isFinal(status)) throw new TypeError(`'${status}' is not a final status`);
  return store.finishDeployment(id, status, message, movesTo(status));
}

/** A queued deployment that will never run (cancelled, superseded, expired); one that started is left alone. */
export function skipQueued(store: Store, id: string, message: string): Promise<boolean> {
  return store.finishDeployment(id, 'skipped', message, WAITING);
}

/** A deployment whose queueing failed: it fails unless its queue already started it. */
export function failUnqueued(store: Store, id: string, message: string): Promise<boolean> {
  return store.finishDeployment(id, 'failed', message, ['not-started']);
}

/**
 * The deployment workflow's claim, before it runs anything: false when the deployment already ended
 * (never queued, cancelled, reconciled), which must then not run. Claiming a running deployment again
 * succeeds (a retried activity, a reset workflow): Temporal runs one workflow per deployment ID at a time.
 * An approved deployment is claimed again to run its operation.
 */
export function claim(store: Store, id: string): Promise<boolean> {
  return store.setStatus(id, 'running', undefined, [...WAITING, ...ACTIVE]);
}

/** Any forward move; to running, the claim. */
export function advance(store: Store, id: string, status: DeploymentStatus, message?: string): Promise<boolean> {
  if (status === 'running') return claim(store, id);
  return isFinal(status) ? finish(store, id, status, message) : store.setStatus(id, status, message, movesTo(status));
}
