import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Store } from './store/store';
import { TERMINAL } from './shared/deployment';
import { deploymentWorkflowId } from './shared/ids';
import { isAlive, killAllIn } from './activities/process-tree';
import { PROCESS_IDENTITY, localPid } from './worker-identity';

type PendingActivity = temporal.api.workflow.v1.IPendingActivityInfo;

interface Log {
  info(meta: object, message: string): void;
  warn(meta: object, message: string): void;
}

/** Steps that run on the data directory's own queue (see createWorkspaceActivities). */
const STEPS = new Set(['getSource', 'installDependencies', 'preRunCommand', 'pulumiOperation', 'previewForApproval', 'applyApproved']);
const CLEANUP = 'cleanupWorkspace';

/** A deployment's status and workflow: from the store, or through a pool worker's gateway. */
type DeploymentLookup = (id: string) => Promise<{ status: string; workflowId: string } | undefined>;

export const deploymentState =
  (store: Store): DeploymentLookup =>
  async (id) => {
    const d = await store.getDeploymentById(id);
    return d && { status: d.status, workflowId: deploymentWorkflowId(d, d.version) };
  };

/**
 * After a worker died, Temporal still counts the steps it was running as started until their
 * heartbeat times out. A worker restarted on the same data directory ends them at once: it kills what
 * is left of their processes, then fails them, so an interrupted Pulumi operation is recovered, other
 * steps fail, and a cleanup is retried here. Returns how many it ended.
 */
export async function reclaimSteps(o: { client: Client; deployment: DeploymentLookup; dataDir: string; log: Log }): Promise<number> {
  const work = join(o.dataDir, 'work');
  const ids = (await readdir(work).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
  let reclaimed = 0;
  for (const id of ids) {
    const d = await o.deployment(id).catch(() => undefined);
    if (!d || (TERMINAL as readonly string[]).includes(d.status)) continue;
    const { workflowId } = d;
    const desc = await o.client.workflow
      .getHandle(workflowId)
      .describe()
      .catch(() => undefined);
    if (desc?.status.name !== 'RUNNING') continue;
    const orphans = (desc.raw.pendingActivities ?? []).filter(isOrphan);
    if (orphans.length === 0) continue;
    // The dead worker's Pulumi or npm may still run, holding the stack's lock: they go first.
    await killAllIn(join(work, id));
    for (const a of orphans) {
      const type = a.activityType?.name ?? '';
      o.log.warn({ deployment: id, step: type, previousWorker: a.lastWorkerIdentity }, 'ending a step whose worker is gone');
      await o.client.activity.fail({ workflowId, runId: desc.runId, activityId: a.activityId! }, failureFor(type));
      reclaimed++;
    }
  }
  if (reclaimed) o.log.info({ reclaimed }, 'ended the steps of the previous worker on this data directory');
  return reclaimed;
}

/** Started by another run of a worker on this host that is no longer alive. */
function isOrphan(a: PendingActivity): boolean {
  const type = a.activityType?.name ?? '';
  if (!STEPS.has(type) && type !== CLEANUP) return false;
  const { PENDING_ACTIVITY_STATE_STARTED: started, PENDING_ACTIVITY_STATE_CANCEL_REQUESTED: cancelling } = temporal.api.enums.v1.PendingActivityState;
  if (a.state !== started && a.state !== cancelling) return false;
  const identity = a.lastWorkerIdentity ?? '';
  const pid = localPid(identity);
  return identity !== PROCESS_IDENTITY && pid !== undefined && (pid === process.pid || !isAlive(pid));
}

function failureFor(type: string): ApplicationFailure {
  // The deployment workflow recovers the stack after a PulumiInterrupted failure.
  if (type === 'pulumiOperation') return ApplicationFailure.nonRetryable('Pulumi was stopped: its worker stopped while the operation ran.', 'PulumiInterrupted');
  if (type === CLEANUP) return ApplicationFailure.retryable('its worker stopped; trying again', 'WorkerRestarted');
  return ApplicationFailure.nonRetryable('Interrupted: the worker running this step stopped.', 'WorkerRestarted');
}
