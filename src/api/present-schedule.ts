import type { ScheduleFiring, ScheduleRecord } from '../store/schedules';
import { stackKey } from '../shared/names';
import { nextCronTime } from '../shared/schedules';
import { nextExecution } from '../deployments/schedules';
import { pulumiTime } from './present';

/** `YYYY-MM-DD HH:MM:SS`, the form Pulumi's clients (the pulumiservice provider, the CLI) parse scheduleOnce in. */
const onceTime = (iso: string) => iso.slice(0, 19).replace('T', ' ');

/** Pulumi's ScheduledAction. */
export function presentSchedule(s: ScheduleRecord, lastExecuted: string | undefined, now = new Date()) {
  const next = nextExecution(s, lastExecuted, now, nextCronTime);
  return {
    id: s.id,
    orgID: s.org,
    ...(s.scheduleCron ? { scheduleCron: s.scheduleCron } : {}),
    ...(s.scheduleOnce ? { scheduleOnce: onceTime(s.scheduleOnce) } : {}),
    nextExecution: next ? pulumiTime(next.toISOString()) : null,
    paused: s.paused,
    kind: 'deployment',
    definition: { programID: stackKey(s), request: s.request },
    created: pulumiTime(s.created),
    modified: pulumiTime(s.modified),
    lastExecuted: lastExecuted ? pulumiTime(lastExecuted) : null,
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
