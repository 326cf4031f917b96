import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  TimeoutFailure,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { SharedActivities, WorkspaceActivities } from '../activities';
import { planOfInput, type DeploymentInput, type DeploymentResult, type DeploymentStatus } from '../shared/deployment';
import { remediationWanted } from '../shared/drift';
import { StatusAttr } from '../shared/search-attributes';
import { stopSignal, type StopRequest } from './definitions';
import { approvalPolicy } from '../shared/approval';
import { previewAndAwaitApproval } from './approval';
import { operationEvent, type HookEventName } from '../shared/hooks';
import { chainWorkflowId } from '../shared/chain';
import { chain } from './chain';
import { poolQueue } from '../shared/pools';
import { QUEUE_MAX_AGE_MS } from './queue-rules';

const shared = proxyActivities<SharedActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '10 seconds' },
});

/** Recovery runs on any worker, and keeps trying: the stack must not stay locked. */
const recovery = proxyActivities<SharedActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 20, maximumInterval: '1 minute' },
});

/** Added with the recovery step after an interrupted Pulumi operation. */
const RECOVERY_PATCH = 'recover-interrupted-pulumi';
/** Added when queueing remediateIfDriftDetected's remediation moved from the Pulumi activity to the workflow. */
const REMEDIATION_PATCH = 'queue-remediation-from-workflow';
/** Added with requireApproval: preview with a saved plan, wait for approvals, apply the plan. */
const APPROVAL_PATCH = 'require-approval';

// Reporting to the git host is best effort: a few tries, then the deployment goes on without it.
const reporting = proxyActivities<SharedActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, maximumInterval: '10 seconds' },
});

/** Added with outgoing webhook events and chains of dependent stacks. */
const HOOK_EVENTS_PATCH = 'hook-events-and-chains';

// Publishing only records deliveries and starts their workflows: a few tries, then the deployment goes on.
const events = proxyActivities<SharedActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, maximumInterval: '5 seconds' },
});

/** Added when the store-only calls around the steps became local activities. */
const LOCAL_STORE_PATCH = 'store-local-activities';

// The same calls, run by the workflow's own worker within its workflow task: each regular activity
// costs a round trip through the server (and a workflow task to resume), and a deployment makes
// several before its first step and after its last one, where the stack's next deployment waits.
const localShared = proxyLocalActivities<SharedActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '10 seconds' },
});
const localEvents = proxyLocalActivities<SharedActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, maximumInterval: '5 seconds' },
});

/** Publishes a deployment's event to the hooks that want it; never fails the deployment. */
async function publish(input: DeploymentInput, kind: HookEventName, via = events): Promise<void> {
  const event = { kind, organization: input.org, project: input.project, stack: input.stack, deploymentId: input.id, data: {} };
  await CancellationScope.nonCancellable(() => via.publishEvent(event)).catch((err: unknown) =>
    log.warn('could not publish a hook event', { kind, error: String(err) }),
  );
}

/** After a successful update: the chain of the stack's dependents, if it has any, outliving this workflow. */
async function startChain(input: DeploymentInput, via = events): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    if (!(await via.hasDependents(input))) return;
    await startChild(chain, {
      workflowId: chainWorkflowId(input.org, input.id),
      args: [{ org: input.org, project: input.project, stack: input.stack, deploymentId: input.id, version: input.version }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  }).catch((err: unknown) => {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) log.warn('could not start the chain of dependents', { error: String(err) });
  });
}

/** Steps run on one worker's session queue, because they share the cloned files. */
function onWorkspace(taskQueue: string) {
  const base = {
    taskQueue,
    // If that worker is gone, fail instead of waiting forever.
    scheduleToStartTimeout: '5 minutes',
    heartbeatTimeout: '1 minute',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1 },
  } as const;
  return {
    quick: proxyActivities<WorkspaceActivities>({ ...base, startToCloseTimeout: '30 minutes' }),
    // The activity enforces the configured maximum duration itself, stopping Pulumi gracefully.
    pulumi: proxyActivities<WorkspaceActivities>({ ...base, startToCloseTimeout: '24 hours' }),
    cleanup: proxyActivities<WorkspaceActivities>({ ...base, startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 3 } }),
  };
}

/**
 * A runner pool's deployment waits, still queued, until one of the pool's workers takes it (its
 * workspace queue is the answer), at most until the deployment is 7 days old, as any queued one.
 */
async function claimInPool(input: DeploymentInput, pool: string): Promise<string | undefined> {
  const waitMs = Math.max(1000, (input.requestedAt ?? Date.now()) + QUEUE_MAX_AGE_MS - Date.now());
  const claim = proxyActivities<SharedActivities>({
    taskQueue: poolQueue(workflowInfo().taskQueue, pool),
    scheduleToStartTimeout: waitMs,
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 1 },
  });
  try {
    return await claim.claimWorkspace();
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) return undefined;
    throw err;
  }
}

/** One deployment: get the source, install, pre-run commands, then the Pulumi operation. */
export async function deployment(input: DeploymentInput): Promise<DeploymentResult> {
  // Only git-triggered deployments report, so the histories of the others stay as they were.
  const report = async (outcome: Parameters<SharedActivities['reportDeployment']>[1]) => {
    if (!input.trigger) return;
    await CancellationScope.nonCancellable(() => reporting.reportDeployment(input, outcome)).catch((err: unknown) =>
      log.warn('could not report the deployment to its git host', { error: String(err) }),
    );
  };
  const publishing = patched(HOOK_EVENTS_PATCH);
  const local = patched(LOCAL_STORE_PATCH);
  const store = local ? localShared : shared;
  const hooks = local ? localEvents : events;
  const finish = async (status: DeploymentStatus, message?: string, resourceChanges?: Record<string, number>, driftDetected?: boolean): Promise<DeploymentResult> => {
    upsertSearchAttributes([{ key: StatusAttr, value: status }]);
    // Recording the outcome must happen even when the workflow is being cancelled.
    await CancellationScope.nonCancellable(() => store.setDeploymentStatus(input.id, status, message));
    await report({ status, message, resourceChanges });
    if (publishing && status !== 'skipped') {
      const ok = status === 'succeeded';
      await publish(input, ok ? 'deployment_succeeded' : 'deployment_failed', hooks);
      await publish(input, operationEvent(input.operation, ok), hooks);
      if (ok && driftDetected) await publish(input, 'drift_detected', hooks);
      if (ok && input.operation === 'update') await startChain(input, hooks);
    }
    return { status, message };
  };

  // The queue stops a deployment with a signal that says why (cancelled, superseded).
  const steps = new CancellationScope();
  let stop: StopRequest | undefined;
  setHandler(stopSignal, (req) => {
    stop ??= req;
    steps.cancel();
  });

  // A pool's deployment first waits for a worker of that pool (deployments without one run as before).
  const pool = planOfInput(input).pool;
  const poolWorkspace = pool ? await claimInPool(input, pool) : undefined;
  if (pool && !poolWorkspace) {
    const message = `Not run: no worker of runner pool "${pool}" took it within 7 days of the request.`;
    await shared.skipDeployment(input, message);
    upsertSearchAttributes([{ key: StatusAttr, value: 'skipped' }]);
    return { status: 'skipped', message };
  }
  upsertSearchAttributes([{ key: StatusAttr, value: 'running' }]);
  // The claim: a deployment that already ended (never queued, cancelled, reconciled) is not run.
  // Activities recorded before the claim existed returned nothing, and those histories go on.
  if ((await store.setDeploymentStatus(input.id, 'running')) === false) {
    upsertSearchAttributes([{ key: StatusAttr, value: 'skipped' }]);
    return { status: 'skipped', message: 'Not run: the deployment had already ended.' };
  }
  await report({ status: 'running' });
  if (publishing) await publish(input, 'deployment_started', hooks);
  // As a local activity, the worker running this workflow task takes the deployment: any worker may.
  const ws = onWorkspace(poolWorkspace ?? (await store.claimWorkspace()));
  const { options, preRunCommands } = planOfInput(input);
  let inPulumi = false;
  let workspaceLost = false;
  try {
    const summary = await steps.run(async () => {
      let step = 0;
      await ws.quick.getSource(input, step++);
      if (!options.skipInstallDependencies) await ws.quick.installDependencies(input, step++);
      for (let i = 0; i < preRunCommands; i++) await ws.quick.preRunCommand(input, step++, i);
      const approval = approvalPolicy({ operationContext: { options } }, input.operation);
      if (approval && patched(APPROVAL_PATCH)) {
        const approved = await previewAndAwaitApproval(input, approval, ws.pulumi, step, (yes) => (inPulumi = yes));
        inPulumi = true;
        return ws.pulumi.applyApproved(input, step + 2, approved);
      }
      inPulumi = true;
      return ws.pulumi.pulumiOperation(input, step);
    });
    // Queued from the detection's result by the workflow, so a retried activity never queues it twice.
    const remediation =
      remediationWanted(input, summary.driftDetected) && patched(REMEDIATION_PATCH)
        ? await CancellationScope.nonCancellable(() => shared.queueRemediation(input))
        : undefined;
    const result = await finish('succeeded', undefined, summary.resourceChanges as Record<string, number>, summary.driftDetected ?? undefined);
    return remediation ? { ...result, remediation } : result;
  } catch (err) {
    let message = isCancellation(err) ? (stop?.message ?? 'The deployment was cancelled.') : failureMessage(err);
    // A timed-out step means its worker is gone or hung: its session queue would never run the cleanup.
    workspaceLost = err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && patched(RECOVERY_PATCH);
    if (inPulumi && interrupted(err) && patched(RECOVERY_PATCH)) {
      // The Pulumi process may have died holding the stack's lock or with operations half done.
      const why = workspaceLost ? 'the worker running Pulumi stopped responding' : message;
      const recovered = await CancellationScope.nonCancellable(() => recovery.recoverStack(input, why));
      message = `${workspaceLost ? 'Interrupted: the worker running Pulumi was lost.' : message} ${recovered}`;
      if (!isCancellation(err)) return { ...(await finish('failed', message)), interrupted: true };
    }
    return await finish(isCancellation(err) && stop ? stop.status : 'failed', message);
  } finally {
    if (!workspaceLost) await CancellationScope.nonCancellable(() => ws.cleanup.cleanupWorkspace(input.id)).catch(() => undefined);
  }
}

/** Cancelled, timed out, or stopped by the activity's own liveness checks. */
function interrupted(err: unknown): boolean {
  if (isCancellation(err)) return true;
  if (!(err instanceof ActivityFailure)) return false;
  return err.cause instanceof TimeoutFailure || (err.cause instanceof ApplicationFailure && err.cause.type === 'PulumiInterrupted');
}

function failureMessage(err: unknown): string {
  // Activity failures wrap the step's own ApplicationFailure.
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof TimeoutFailure) return `The step timed out (${cause.timeoutType === 'SCHEDULE_TO_START' ? 'no worker took it' : 'the worker stopped responding'}).`;
  if (cause instanceof ApplicationFailure) return cause.message;
  return err instanceof Error ? err.message : String(err);
}
