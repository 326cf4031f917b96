import {
  ChildWorkflowFailure,
  ParentClosePolicy,
  TerminatedFailure,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { SharedActivities } from '../activities';
import type { DeploymentInput } from '../shared/deployment';
import { deploymentWorkflowId } from '../shared/ids';
import { OperationAttr, StackAttr, StatusAttr, VersionAttr } from '../shared/search-attributes';
import { stackKey, type StackRef } from '../shared/names';
import { cancelSignal, enqueueSignal, queueStateQuery, stopSignal, wakeSignal, type StopRequest } from './definitions';
import { deployment } from './deployment';
import { expired, intermediates, superseded, supersededMessage, untilNextExpiry, type Skip } from './queue-rules';

export interface StackQueueInput {
  stack: StackRef;
  queued?: DeploymentInput[];
}

const store = proxyActivities<SharedActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '10 seconds' },
});

/** The pause check before each deployment, run by the queue's own worker (no round trip through the server). */
const localStore = proxyLocalActivities<SharedActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '10 seconds' },
});

/** A paused queue looks again this often, in case a resume's wake-up signal was lost. */
const PAUSE_RECHECK_MS = 60 * 60 * 1000;
/** Added with pause/resume, queue expiry, skipping, cancel and supersede. */
const QUEUE_RULES_PATCH = 'queue-rules';
/** Added when a deployment workflow that closed without a result got its record failed by the queue. */
const CHILD_FAILURE_PATCH = 'record-child-failure';
/** Added when the pause check became a local activity. */
const LOCAL_STORE_PATCH = 'store-local-activities';

/**
 * One per stack: runs the stack's deployments one at a time, in the order they were requested.
 * It ends after an idle hour; the next request starts it again (signal-with-start).
 */
export async function stackQueue({ stack, queued = [] }: StackQueueInput): Promise<void> {
  const pending = [...queued];
  let running: { input: DeploymentInput; child?: ChildWorkflowHandle<typeof deployment>; stop?: StopRequest } | undefined;
  let woken = false;

  const skip = async (skips: Skip[]) => {
    for (const s of skips) {
      const i = pending.indexOf(s.input);
      if (i >= 0) pending.splice(i, 1);
    }
    for (const s of skips) await store.skipDeployment(s.input, s.message);
  };
  const stopRunning = async (req: StopRequest) => {
    if (!running || running.stop) return;
    running.stop = req;
    await condition(() => running?.child !== undefined || running?.stop !== req);
    await running?.child?.signal(stopSignal, req).catch(() => undefined); // it may have just finished
  };

  setHandler(enqueueSignal, async (d) => {
    if (running?.input.id === d.id || pending.some((p) => p.id === d.id)) return;
    pending.push({ ...d, requestedAt: d.requestedAt ?? Date.now() });
    if (!d.supersedeKey) return;
    await skip(superseded(pending, d));
    // While the skips were recorded the queue may have started `d` itself: it supersedes only others.
    if (running && running.input.id !== d.id && running.input.supersedeKey === d.supersedeKey) {
      await stopRunning({ status: 'skipped', message: supersededMessage(d) });
    }
  });
  setHandler(cancelSignal, async (id) => {
    const queuedOne = pending.find((p) => p.id === id);
    if (queuedOne) await skip([{ input: queuedOne, message: 'Cancelled before it started.' }]);
    else if (running?.input.id === id) await stopRunning({ status: 'failed', message: 'Cancelled by request.' });
  });
  setHandler(wakeSignal, () => void (woken = true));
  setHandler(queueStateQuery, () => ({
    running: running && { id: running.input.id, version: running.input.version },
    queued: pending.map((d) => ({ id: d.id, version: d.version })),
  }));

  for (;;) {
    if (!(await condition(() => pending.length > 0, '1 hour'))) {
      await condition(allHandlersFinished);
      if (pending.length === 0) return;
      continue;
    }
    if (patched(QUEUE_RULES_PATCH)) {
      await skip(expired(pending, Date.now()));
      if (pending.length === 0) continue;
      if (await (patched(LOCAL_STORE_PATCH) ? localStore : store).isQueuePaused(stack)) {
        woken = false;
        const wait = Math.min(PAUSE_RECHECK_MS, untilNextExpiry(pending, Date.now()) ?? PAUSE_RECHECK_MS);
        await condition(() => woken || pending.length === 0, Math.max(wait, 1000));
        continue;
      }
    }
    const next = pending.shift()!;
    running = { input: next };
    try {
      running.child = await startChild(deployment, {
        workflowId: deploymentWorkflowId(stack, next.version),
        args: [next],
        // Cancelling the queue cancels the running deployment gracefully rather than abandoning it.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        typedSearchAttributes: [
          { key: StackAttr, value: stackKey(stack) },
          { key: OperationAttr, value: next.operation },
          { key: StatusAttr, value: 'accepted' },
          { key: VersionAttr, value: next.version },
        ],
      });
      const result = await running.child.result();
      if (result.remediation) pending.unshift(result.remediation);
      if (result.interrupted && patched(QUEUE_RULES_PATCH)) {
        // Retrying is an explicit, visible new deployment, and only when the operator enabled it.
        const retry = await store.retryDeployment(next);
        if (retry) pending.unshift(retry);
      }
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        // A workflow of this deployment already runs (a queue that was reset or restarted): it records its own outcome.
        log.warn('deployment workflow already running; not started again', { deploymentId: next.id, workflowId: err.workflowId });
      } else {
        // It closed without a result (terminated, timed out): it recorded no outcome, so the queue
        // does. A deployment that did record one keeps it (final statuses are never rewritten).
        log.error('deployment workflow ended without a result', { deploymentId: next.id, error: String(err) });
        if (patched(CHILD_FAILURE_PATCH)) await store.setDeploymentStatus(next.id, 'failed', closedWithoutResult(err));
      }
    }
    running = undefined;
    if (patched(QUEUE_RULES_PATCH)) await skip(intermediates(pending));
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof stackQueue>({ stack, queued: pending });
    }
  }
}

function closedWithoutResult(err: unknown): string {
  const cause = err instanceof ChildWorkflowFailure ? err.cause : err;
  // The termination's reason is not passed to the parent; the workflow's history has it.
  if (cause instanceof TerminatedFailure) return "Failed: the deployment's workflow was terminated before it recorded an outcome.";
  if (cause instanceof TimeoutFailure) return "Failed: the deployment's workflow timed out before it recorded an outcome.";
  const why = cause instanceof Error ? cause.message : String(cause);
  return `Failed: the deployment's workflow ended without recording an outcome: ${why}`;
}
