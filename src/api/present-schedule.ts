import type { ScheduleFiring, ScheduleRecord } from '../store/schedules';
import { nextCronTime } from '../shared/schedules';
import { nextExecution } from '../deployments/schedules';
import { pulumiTime } from './present';

/** `YYYY-MM-DD HH:MM:SS`, the form Pulumi's clients (the pulumiservice provider, the CLI) parse scheduleOnce in. */
const onceTime = (iso: string) => iso.slice(0, 19).replace('T', ' ');

/** Pulumi's ScheduledAction. Its OpenAPI schema requires nextExecution and lastExecuted as strings: empty when there is none. */
export function presentSchedule(s: ScheduleRecord, lastExecuted: string | undefined, now = new Date()) {
  const next = nextExecution(s, lastExecuted, now, nextCronTime);
  return {
    id: s.id,
    orgID: s.org,
    ...(s.scheduleCron ? { scheduleCron: s.scheduleCron } : {}),
    ...(s.scheduleOnce ? { scheduleOnce: onceTime(s.scheduleOnce) } : {}),
    nextExecution: next ? pulumiTime(next.toISOString()) : '',
    paused: s.paused,
    kind: 'deployment',
    // No programID (Pulumi Cloud's internal id of the stack): the OpenAPI schema types every definition field as an object.
    definition: { request: s.request },
    created: pulumiTime(s.created),
    modified: pulumiTime(s.modified),
    lastExecuted: lastExecuted ? pulumiTime(lastExecuted) : '',
  };
}

/** Pulumi's ScheduledActionHistoryEvent, plus the deployment a firing queued. */
export const presentFiring = (f: ScheduleFiring) => ({
  id: f.id,
  scheduledActionID: f.scheduleId,
  executed: pulumiTime(f.executed),
  version: f.version,
  result: f.result,
  ...(f.deploymentId ? { deploymentID: f.deploymentId } : {}),
  ...(f.message ? { message: f.message } : {}),
});
