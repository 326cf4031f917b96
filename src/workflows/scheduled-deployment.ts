import { proxyActivities, uuid4 } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import type { ScheduledDeploymentInput } from './schedule-definitions';

const store = proxyActivities<SharedActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '10 seconds', maximumAttempts: 20 },
});

/**
 * The action of a cron or once schedule's Temporal Schedule: queue the schedule's deployment on its
 * stack's queue, unless the deployment of its previous firing is still queued or running, in which
 * case the firing is recorded as skipped. Returns the firing's result.
 */
export async function scheduledDeployment(input: ScheduledDeploymentInput): Promise<string> {
  const executed = new Date(Date.now()).toISOString();
  const firingId = uuid4();
  const check = await store.checkScheduleFiring(input.scheduleId);
  if (check.state === 'gone' || check.state === 'paused') return `not run: the schedule is ${check.state === 'gone' ? 'deleted' : 'paused'}`;
  if (check.state === 'busy') {
    const message = `Skipped: deployment ${check.deploymentVersion} of the previous firing is still ${check.status}.`;
    await store.recordSkippedFiring({ scheduleId: input.scheduleId, firingId, executed, version: check.version, message });
    return 'skipped';
  }
  const queued = await store.queueScheduledDeployment({ scheduleId: input.scheduleId, firingId, executed });
  return 'deploymentId' in queued ? `queued deployment ${queued.version}` : queued.message;
}
