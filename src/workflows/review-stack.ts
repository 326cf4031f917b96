import { ApplicationFailure, ActivityFailure, condition, log, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { ReviewStackActivities } from '../activities';
import type { ReviewClose, ReviewPush, ReviewStackInput } from '../shared/review';
import { reviewCloseSignal, reviewPushSignal } from './review-definitions';

const acts = proxyActivities<ReviewStackActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumInterval: '1 minute' },
});

/** A failed destroy is tried again after this long, doubling up to a day: never dropped. */
const DESTROY_RETRY_MS = 10_000;
const DESTROY_RETRY_MAX_MS = 24 * 60 * 60 * 1000;
/** How often a running destroy is looked at (doubling, up to the maximum). */
const POLL_MS = 2_000;
const POLL_MAX_MS = 10_000;

export interface ReviewOutcome {
  /** Why it was torn down: the pull request was merged or closed, or its time to live ran out. */
  reason: 'merged' | 'closed' | 'ttl';
  destroyAttempts: number;
}

/**
 * One per review stack, for as long as its pull request is open. Pushes create the stack from its
 * template (first time) and update it; a newer commit supersedes an older one's update in the
 * stack's queue. A close (or the time to live after the last push) destroys the stack, retrying a
 * failed destroy, and removes it only after a destroy succeeded. A reopen during the teardown
 * creates it again afterwards.
 */
export async function reviewStack(input: ReviewStackInput): Promise<ReviewOutcome> {
  let latest: ReviewPush | undefined;
  let deployed: string | undefined;
  let lastPushAt = Date.now();
  let closing: ReviewClose | undefined;
  let reopened: ReviewPush | undefined;
  // Counts the stack's lives within this run (a reopen during a teardown starts another).
  let generation = 1;

  setHandler(reviewPushSignal, (p) => {
    if (closing) reopened = p;
    else {
      latest = p;
      lastPushAt = Date.now();
    }
  });
  // A duplicate close while the teardown runs changes nothing.
  setHandler(reviewCloseSignal, (c) => void (closing ??= c));

  for (;;) {
    const ttlMs = (latest?.ttlHours ?? 0) * 60 * 60 * 1000;
    const due = () => closing !== undefined || (latest !== undefined && latest.commit !== deployed);
    const woke = await condition(due, Math.max(1_000, lastPushAt + ttlMs - Date.now()));
    if (closing || !woke) {
      const reason = closing ? (closing.merged ? 'merged' : 'closed') : 'ttl';
      const destroyAttempts = await teardown(input, reason, `${workflowInfo().runId}/${generation}`);
      if (!reopened) return { reason, destroyAttempts };
      // Reopened while it was torn down: a fresh review stack.
      [latest, reopened, closing, deployed, lastPushAt] = [reopened, undefined, undefined, undefined, Date.now()];
      generation++;
      continue;
    }
    const push = latest!;
    deployed = push.commit;
    try {
      await acts.deployReviewStack(input, push, `${workflowInfo().runId}/${generation}`);
    } catch (err) {
      // The template is gone or its settings cannot run: said in the listing; the next push tries again.
      log.warn('could not deploy the review stack', { error: String(err) });
      await acts.markReviewStack(input.review, 'failed', failureMessage(err));
    }
  }
}

/** Destroys until a destroy succeeds, then removes the stack; returns the number of destroys. */
async function teardown(input: ReviewStackInput, reason: ReviewOutcome['reason'], life: string): Promise<number> {
  let attempt = 0;
  for (;;) {
    attempt++;
    const queued = await acts.queueReviewDestroy(input, reason, attempt, life);
    if (!queued) break; // never deployed: nothing to destroy
    const status = await finished(queued.id);
    if (status === 'succeeded') break;
    const wait = Math.min(DESTROY_RETRY_MS * 2 ** (attempt - 1), DESTROY_RETRY_MAX_MS);
    await acts.markReviewStack(input.review, 'destroy-failed', `Destroy attempt ${attempt} ended ${status}; trying again in ${Math.round(wait / 1000)} s.`);
    await sleep(wait);
  }
  await acts.removeStack({ organization: input.review.org, project: input.review.project, stack: input.review.stack });
  await acts.markReviewStack(input.review, 'removed', reason === 'ttl' ? 'Removed: no push within its time to live.' : `Removed: the pull request was ${reason}.`);
  await acts.reportReviewRemoved(input, reason);
  return attempt;
}

async function finished(id: string): Promise<string> {
  for (let wait = POLL_MS; ; wait = Math.min(wait * 2, POLL_MAX_MS)) {
    const status = await acts.deploymentStatus(id);
    if (status === 'succeeded' || status === 'failed' || status === 'skipped') return status;
    await sleep(wait);
  }
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure || cause instanceof Error ? cause.message : String(cause);
}
