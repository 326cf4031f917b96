import { ScheduleNotFoundError, ScheduleOverlapPolicy, WorkflowNotFoundError, type Client, type ScheduleSpec as TemporalSpec } from '@temporalio/client';
import { MONTHS } from '@temporalio/client/lib/schedule-types';
import type { StackRef } from '../shared/names';
import { stackKey } from '../shared/names';
import { StackAttr } from '../shared/search-attributes';
import type { Store } from '../store/store';
import { ScheduleStore, type ScheduleRecord, type ScheduleSpec } from '../store/schedules';
import { ttlUpdateSignal, type ScheduledDeploymentInput, type TtlInput, type TtlTerms } from '../workflows/schedule-definitions';
import type { scheduledDeployment } from '../workflows/scheduled-deployment';
import type { ttlStack } from '../workflows/ttl-stack';

/** What managing schedules needs: where they are recorded, and the Temporal that runs them. */
export interface ScheduleDeps {
  store: Store;
  temporal: Client;
  taskQueue: string;
  /** Lead times of deployment_ttl_warning before a TTL's deadline (ms). */
  ttlWarningLeadsMs: number[];
}

/** The Temporal Schedule of a cron or once schedule (the Temporal UI lists it under this id). */
export const temporalScheduleId = (ref: StackRef, id: string): string => `schedule/${stackKey(ref)}/${id}`;
/** The one TTL workflow of a stack. */
export const ttlWorkflowId = (ref: StackRef): string => `ttl/${stackKey(ref)}`;

/** Records a schedule and starts what runs it; if Temporal refuses, nothing is kept. */
export async function createSchedule(deps: ScheduleDeps, ref: StackRef, spec: ScheduleSpec): Promise<ScheduleRecord> {
  const schedules = new ScheduleStore(deps.store.db);
  const s = await schedules.create(ref, spec);
  try {
    if (s.kind === 'ttl') await startTtl(deps, s);
    else {
      await deps.temporal.schedule.create({
        scheduleId: temporalScheduleId(ref, s.id),
        spec: temporalSpec(s),
        action: {
          type: 'startWorkflow',
          workflowType: 'scheduledDeployment' satisfies (typeof scheduledDeployment)['name'],
          workflowId: `scheduled/${stackKey(ref)}/${s.id}`,
          args: [{ ...ref, scheduleId: s.id } satisfies ScheduledDeploymentInput],
          taskQueue: deps.taskQueue,
          typedSearchAttributes: [{ key: StackAttr, value: stackKey(ref) }],
        },
        // Overlap is judged on the deployments (queued or running), not on this short workflow: see scheduledDeployment.
        policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL, catchupWindow: '10 minutes' },
        state: { note: describe(s), ...(s.scheduleOnce ? { remainingActions: 1 } : {}) },
      });
    }
  } catch (err) {
    await schedules.delete(s.id);
    throw err;
  }
  return s;
}

/** A full update: new timing and request. Temporal (the timer or the Temporal Schedule) follows first, so a refusal changes nothing. */
export async function updateSchedule(deps: ScheduleDeps, s: ScheduleRecord, spec: Omit<ScheduleSpec, 'kind'>): Promise<ScheduleRecord> {
  const now = new Date();
  const updated: ScheduleRecord = { ...s, ...spec, version: s.version + 1, modified: now.toISOString() };
  if (s.kind === 'ttl') await startTtl(deps, updated);
  else {
    await deps.temporal.schedule.getHandle(temporalScheduleId(s, s.id)).update((prev) => ({
      ...prev,
      spec: temporalSpec(updated),
      state: { paused: updated.paused, note: describe(updated), ...(updated.scheduleOnce ? { remainingActions: 1 } : {}) },
    }));
  }
  await new ScheduleStore(deps.store.db).update(s.id, spec, now);
  return updated;
}

export async function setSchedulePaused(deps: ScheduleDeps, s: ScheduleRecord, paused: boolean): Promise<void> {
  await new ScheduleStore(deps.store.db).setPaused(s.id, paused);
  if (s.kind === 'ttl') {
    // A TTL that already fired is not started again by a resume.
    await ignoreNotFound(deps.temporal.workflow.getHandle(ttlWorkflowId(s)).signal(ttlUpdateSignal, { ...ttlTerms(s), paused }));
    return;
  }
  const h = deps.temporal.schedule.getHandle(temporalScheduleId(s, s.id));
  await ignoreNotFound(paused ? h.pause('paused through the API') : h.unpause('resumed through the API'));
}

/** Stops what runs the schedule, then forgets it. */
export async function deleteSchedule(deps: Pick<ScheduleDeps, 'store' | 'temporal'>, s: ScheduleRecord, opts: { keepTtlWorkflow?: boolean } = {}): Promise<void> {
  if (s.kind !== 'ttl') await ignoreNotFound(deps.temporal.schedule.getHandle(temporalScheduleId(s, s.id)).delete());
  else if (!opts.keepTtlWorkflow) await ignoreNotFound(deps.temporal.workflow.getHandle(ttlWorkflowId(s)).cancel());
  await new ScheduleStore(deps.store.db).delete(s.id);
}

/** When the schedule fires next, if it will. */
export function nextExecution(s: ScheduleRecord, lastExecuted: string | undefined, now: Date, nextCron: (cron: string, from: Date) => Date): Date | undefined {
  if (s.scheduleCron) return nextCron(s.scheduleCron, now);
  if (!s.scheduleOnce) return undefined;
  const once = new Date(s.scheduleOnce);
  // A once schedule fires one time; a TTL keeps trying until its destroy succeeds.
  return lastExecuted && lastExecuted >= s.modified ? undefined : once;
}

export function ttlTerms(s: ScheduleRecord): TtlTerms {
  const options = (s.request.operationContext as { options?: { deleteAfterDestroy?: boolean } } | undefined)?.options;
  return { deadline: s.scheduleOnce!, deleteAfterDestroy: options?.deleteAfterDestroy === true, paused: s.paused };
}

/** Starts the stack's TTL workflow, or gives the running one its new terms. */
async function startTtl(deps: ScheduleDeps, s: ScheduleRecord): Promise<void> {
  const terms = ttlTerms(s);
  await deps.temporal.workflow.signalWithStart<typeof ttlStack, [TtlTerms]>('ttlStack', {
    workflowId: ttlWorkflowId(s),
    taskQueue: deps.taskQueue,
    args: [{ org: s.org, project: s.project, stack: s.stack, scheduleId: s.id, terms, warningLeadsMs: deps.ttlWarningLeadsMs } satisfies TtlInput],
    signal: ttlUpdateSignal,
    signalArgs: [terms],
    typedSearchAttributes: [{ key: StackAttr, value: stackKey(s) }],
  });
}

function temporalSpec(s: ScheduleRecord): TemporalSpec {
  if (s.scheduleCron) return { cronExpressions: [s.scheduleCron] };
  const t = new Date(s.scheduleOnce!);
  return {
    calendars: [
      {
        year: t.getUTCFullYear(),
        month: MONTHS[t.getUTCMonth()],
        dayOfMonth: t.getUTCDate(),
        hour: t.getUTCHours(),
        minute: t.getUTCMinutes(),
        second: t.getUTCSeconds(),
      },
    ],
  };
}

const describe = (s: ScheduleRecord): string => `${s.kind} schedule ${s.id} of ${stackKey(s)}: ${String(s.request.operation)}`;

async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError || err instanceof WorkflowNotFoundError) return;
    throw err;
  }
}
