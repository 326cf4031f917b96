import { Context, log } from '@temporalio/activity';
import type { DeploymentStatus } from '../shared/deployment';
import { stackKey } from '../shared/names';
import { recordAudit } from '../store/audit';
import { stateBackendUrl } from '../state/backend-url';
import { checkFiring, queueFiring, recordSkipped, type Firing } from '../deployments/scheduled-firing';
import type { FiringCheck, QueuedFiring, TtlEvent } from '../shared/schedule-firing';
import type { ActivityDeps } from './context';
import { publishFromActivity } from './events';

/** Activities of schedules and TTL stacks: they record, and queue what the workflows decided. */
export function createScheduleActivities(deps: ActivityDeps) {
  const firingDeps = () => ({
    store: deps.store,
    temporal: Context.current().client,
    taskQueue: deps.taskQueue,
    log: { error: (meta: object, message: string) => log.error(message, meta as Record<string, unknown>) },
    stateBackendUrl: (ref: Parameters<typeof stateBackendUrl>[2]) => stateBackendUrl(deps.dataDir, deps.pulumiBackendUrl, ref),
  });

  return {
    checkScheduleFiring: (scheduleId: string): Promise<FiringCheck> => checkFiring(deps, scheduleId),

    recordSkippedFiring: (f: Firing & { version: number; message: string }): Promise<void> => recordSkipped(deps, f),

    /** Queues the schedule's deployment on its stack's queue (initiator `schedule`). */
    queueScheduledDeployment: (f: Firing): Promise<QueuedFiring> => queueFiring(firingDeps(), f),

    async deploymentStatus(id: string): Promise<DeploymentStatus | undefined> {
      return (await deps.store.getDeploymentById(id))?.status;
    },

    /**
     * deployment_ttl_warning, in the stack's activity (the audit log), and to outgoing webhooks.
     */
    async recordTtlWarning(e: TtlEvent): Promise<void> {
      const hours = Math.round(((e.leadMs ?? 0) / 3600_000) * 10) / 10;
      await recordAudit(deps.store.db, {
        org: e.org,
        event: 'deployment_ttl_warning',
        target: `${stackKey(e)}/deployments/schedules/${e.scheduleId}`,
        description: `The stack's time to live ends at ${e.deadline} (in ${hours} hours): it will then be destroyed`,
        actor: 'schedule',
        tokenId: null,
      });
      const data = { deadline: e.deadline, hoursLeft: hours, scheduleId: e.scheduleId };
      await publishFromActivity(deps, { kind: 'deployment_ttl_warning', organization: e.org, project: e.project, stack: e.stack, data });
    },

    /** A TTL's destroy failed (or could not be queued); it is queued again after `retryInMs`. */
    async reportTtlDestroyFailure(e: TtlEvent): Promise<void> {
      log.warn('TTL destroy failed', { stack: stackKey(e), attempt: e.attempt, message: e.message });
      const retry = e.retryInMs === undefined ? '' : `; trying again in ${Math.round(e.retryInMs / 60_000)} minutes`;
      await recordAudit(deps.store.db, {
        org: e.org,
        event: 'deployment_ttl_destroy_failed',
        target: e.deploymentId ? `${stackKey(e)}/deployments/${e.deploymentId}` : `${stackKey(e)}/deployments/schedules/${e.scheduleId}`,
        description: `Attempt ${e.attempt ?? 1} to destroy the stack at the end of its time to live failed: ${e.message ?? 'unknown error'}${retry}`,
        actor: 'schedule',
        tokenId: null,
      });
    },
  };
}
