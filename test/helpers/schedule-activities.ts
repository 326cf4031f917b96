import { ApplicationFailure } from '@temporalio/common';
import type { SharedActivities } from '../../src/activities';

const unexpected = (name: string) => async (): Promise<never> => {
  throw ApplicationFailure.nonRetryable(`${name} was not expected in this test`);
};

/** The schedule and TTL activities, for harnesses of workflows that never call them. */
export const unusedScheduleActivities: Pick<
  SharedActivities,
  'checkScheduleFiring' | 'recordSkippedFiring' | 'queueScheduledDeployment' | 'deploymentStatus' | 'recordTtlWarning' | 'reportTtlDestroyFailure' | 'removeStack'
> = {
  checkScheduleFiring: unexpected('checkScheduleFiring'),
  recordSkippedFiring: unexpected('recordSkippedFiring'),
  queueScheduledDeployment: unexpected('queueScheduledDeployment'),
  deploymentStatus: unexpected('deploymentStatus'),
  recordTtlWarning: unexpected('recordTtlWarning'),
  reportTtlDestroyFailure: unexpected('reportTtlDestroyFailure'),
  removeStack: unexpected('removeStack'),
};
