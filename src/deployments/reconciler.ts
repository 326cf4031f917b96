import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import type { DeploymentRecord } from '../store/deployments';
import type { Store } from '../store/store';
import { deploymentWorkflowId, stackWorkflowId } from '../shared/ids';
import { finish } from './transitions';
import { ACTIVE, WAITING } from './status';

export interface ReconcilerDeps {
  store: Store;
  temporal: Client;
  log: { warn(meta: object, message: string): void; error(meta: object, message: string): void };
}

/** A queued deployment is left alone this long: the API records it before it signals the queue. */
export const QUEUE_GRACE_MS = 2 * 60_000;
export const RECONCILE_INTERVAL_MS = 60_000;

/**
 * Finds deployments whose workflow closed without recording an outcome (terminated or reset from
 * the Temporal UI, timed out, deleted) and finishes them as failed with the reason, which also
 * closes their steps, so their log streams end. A running deployment is checked against its own
 * workflow; a queued one against its stack's queue workflow. Every write is a guarded transition:
 * an outcome recorded meanwhile by the workflow itself wins. Returns the deployments it finished.
 */
export async function reconcile(deps: ReconcilerDeps, now = Date.now()): Promise<string[]> {
  const open = await deps.store.listByStatus([...WAITING, ...ACTIVE], 10_000);
  const finished: string[] = [];
  for (const d of open) {
    const why = ACTIVE.includes(d.status) ? await deploymentClosed(deps, d) : await queueClosed(deps, d, now);
    if (why && (await finish(deps.store, d.id, 'failed', why))) {
      deps.log.warn({ deployment: d.id, reason: why }, 'reconciler finished a deployment its workflow left open');
      finished.push(d.id);
    }
  }
  return finished;
}

/** Runs reconcile now and then every interval, one pass at a time; stop() waits for a pass under way. */
export function startReconciler(deps: ReconcilerDeps, intervalMs = RECONCILE_INTERVAL_MS): { stop(): Promise<void> } {
  let pass: Promise<unknown> = Promise.resolve();
  let busy = false;
  const tick = () => {
    if (busy) return;
    busy = true;
    pass = reconcile(deps)
      .catch((err: unknown) => deps.log.error({ err }, 'reconciling deployments failed; trying again later'))
      .finally(() => (busy = false));
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await pass;
    },
  };
}

/** Why a running deployment's workflow can no longer record its outcome, if it cannot. */
async function deploymentClosed(deps: ReconcilerDeps, d: DeploymentRecord): Promise<string | undefined> {
  const workflowId = deploymentWorkflowId(d, d.version);
  const closed = await closedStatus(deps, workflowId);
  if (closed === undefined) return undefined;
  if (closed === 'NOT_FOUND') return "Failed: the deployment's workflow no longer exists in Temporal; its outcome was never recorded.";
  if (closed.status === 'TERMINATED') {
    return `Failed: the deployment's workflow was terminated (${(await terminationReason(deps, workflowId, closed.runId)) || 'no reason given'}) before it recorded an outcome.`;
  }
  return `Failed: the deployment's workflow ended (${closed.status.toLowerCase().replace(/_/g, ' ')}) before it recorded an outcome.`;
}

/** Why a queued deployment will never be run by its stack's queue, if it will not. */
async function queueClosed(deps: ReconcilerDeps, d: DeploymentRecord, now: number): Promise<string | undefined> {
  if (now - Date.parse(d.created) < QUEUE_GRACE_MS) return undefined;
  const closed = await closedStatus(deps, stackWorkflowId(d));
  if (closed === undefined) return undefined;
  const what = closed === 'NOT_FOUND' ? 'does not exist' : `ended (${closed.status.toLowerCase().replace(/_/g, ' ')})`;
  return `Not run: its stack's queue workflow ${what}, so nothing will start it.`;
}

/** A workflow's latest run: undefined while it runs. */
async function closedStatus(deps: ReconcilerDeps, workflowId: string): Promise<{ status: string; runId: string } | 'NOT_FOUND' | undefined> {
  try {
    const desc = await deps.temporal.workflow.getHandle(workflowId).describe();
    return desc.status.name === 'RUNNING' ? undefined : { status: desc.status.name, runId: desc.runId };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
    throw err;
  }
}

/** The reason given to `terminate`, read from the run's close event alone. */
async function terminationReason(deps: ReconcilerDeps, workflowId: string, runId: string): Promise<string | undefined> {
  const res = await deps.temporal.workflowService.getWorkflowExecutionHistory({
    namespace: deps.temporal.options.namespace,
    execution: { workflowId, runId },
    historyEventFilterType: proto.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
  });
  return res.history?.events?.[0]?.workflowExecutionTerminatedEventAttributes?.reason ?? undefined;
}
