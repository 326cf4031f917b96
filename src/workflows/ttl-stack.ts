import { ActivityFailure, condition, proxyActivities, setHandler, sleep, uuid4 } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { TERMINAL, type DeploymentStatus } from '../shared/deployment';
import { ttlStateQuery, ttlUpdateSignal, type TtlInput, type TtlTerms } from './schedule-definitions';

const store = proxyActivities<SharedActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '1 minute' },
});

/** Removing the stack runs Pulumi; it is retried until it works (never with resources left: no --force). */
const removal = proxyActivities<SharedActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '10 seconds', maximumInterval: '30 minutes' },
});

/** How often the state of the queued destroy is read while it waits or runs. */
const DESTROY_POLL = '30 seconds';
/** A failed destroy is queued again after 5 min, 10, 20, ... at most every 6 hours, until it succeeds. */
const retryDelayMs = (attempt: number): number => Math.min(5 * 60_000 * 2 ** (attempt - 1), 6 * 3600_000);

/**
 * One per TTL stack: a durable timer until the deadline (nothing polls meanwhile), with a
 * deployment_ttl_warning recorded at each lead time before it. Updating the schedule signals new
 * terms, which move the timer. At the deadline it queues a destroy through the stack's queue and waits
 * for its result; a failed destroy is reported and queued again with backoff. With deleteAfterDestroy,
 * the stack is removed only once a destroy has succeeded.
 */
export async function ttlStack(input: TtlInput): Promise<string> {
  let terms: TtlTerms = input.terms;
  let changed = false;
  let phase: 'waiting' | 'destroying' | 'removing' | 'done' = 'waiting';
  let attempts = 0;
  setHandler(ttlUpdateSignal, (t) => {
    terms = t;
    changed = true;
  });
  setHandler(ttlStateQuery, () => ({ terms, phase, attempts }));
  const warned = new Set<string>();
  const event = (extra: object) => ({ org: input.org, project: input.project, stack: input.stack, scheduleId: input.scheduleId, deadline: terms.deadline, ...extra });

  for (;;) {
    phase = 'waiting';
    await untilDeadline();
    phase = 'destroying';
    attempts++;
    const queued = await store.queueScheduledDeployment({ scheduleId: input.scheduleId, firingId: uuid4(), executed: new Date(Date.now()).toISOString() });
    if (!('deploymentId' in queued)) {
      if (queued.notQueued === 'gone') return 'the schedule was deleted';
      await retryLater(queued.message);
      continue;
    }
    const status = await finalStatus(queued.deploymentId);
    if (status === 'succeeded') break;
    await retryLater(`destroy deployment ${queued.version} ended ${status}`, queued.deploymentId);
  }

  if (terms.deleteAfterDestroy) {
    phase = 'removing';
    try {
      await removal.removeStack({ organization: input.org, project: input.project, stack: input.stack });
    } catch (err) {
      // Only a refusal ends here (Pulumi says resources remain): reported, and the stack is kept.
      const message = `the stack was destroyed but not removed: ${err instanceof ActivityFailure && err.cause ? err.cause.message : String(err)}`;
      await store.reportTtlDestroyFailure(event({ attempt: attempts, message }));
      phase = 'done';
      return message;
    }
  }
  phase = 'done';
  return terms.deleteAfterDestroy ? 'destroyed and removed' : 'destroyed';

  /** Sleeps until the deadline, recording the warnings due on the way; new terms restart the wait. */
  async function untilDeadline(): Promise<void> {
    for (;;) {
      changed = false;
      if (terms.paused) {
        await condition(() => changed);
        continue;
      }
      const deadline = Date.parse(terms.deadline);
      const now = Date.now();
      if (deadline <= now) return;
      for (const lead of input.warningLeadsMs) {
        const key = `${terms.deadline}/${lead}`;
        if (deadline - lead <= now && !warned.has(key)) {
          warned.add(key);
          await store.recordTtlWarning(event({ leadMs: lead }));
        }
      }
      const nextWarning = input.warningLeadsMs.map((l) => deadline - l).filter((t) => t > now);
      const wakeAt = Math.min(deadline, ...nextWarning);
      await condition(() => changed, wakeAt - now);
    }
  }

  async function finalStatus(deploymentId: string): Promise<DeploymentStatus> {
    for (;;) {
      const status = await store.deploymentStatus(deploymentId);
      if (status === undefined) return 'failed';
      if (TERMINAL.includes(status)) return status;
      await sleep(DESTROY_POLL);
    }
  }

  /** Reports the failure, then waits for the next attempt; new terms (a later deadline, a pause) wait again from the start. */
  async function retryLater(message: string, deploymentId?: string): Promise<void> {
    const retryInMs = retryDelayMs(attempts);
    await store.reportTtlDestroyFailure(event({ attempt: attempts, deploymentId, retryInMs, message }));
    changed = false;
    await condition(() => changed, retryInMs);
  }
}
