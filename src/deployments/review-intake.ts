import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ReviewStackInput } from '../shared/review';
import { stackKey } from '../shared/names';
import type { ReviewSignal } from '../vcs/review-plan';
import { reviewCloseSignal, reviewPushSignal } from '../workflows/review-definitions';
import type { reviewStack } from '../workflows/review-stack';

export interface ReviewDispatch {
  stack: string;
  action: 'push' | 'close';
  /** What became of the signal: sent, or no review stack to close. */
  result: 'signalled' | 'no review stack';
}

/**
 * Hands pull request events to the review workflows. New code starts the workflow if it is not
 * running (signal-with-start); a close only reaches a running one: without it there is no review
 * stack, and a repeated close delivery finds nothing to do.
 */
export async function signalReviews(deps: { temporal: Client; taskQueue: string }, signals: ReviewSignal[]): Promise<ReviewDispatch[]> {
  const out: ReviewDispatch[] = [];
  for (const s of signals) {
    const stack = stackKey(s.input.review);
    if (s.push) {
      await deps.temporal.workflow.signalWithStart<typeof reviewStack, [typeof s.push]>('reviewStack', {
        workflowId: s.workflowId,
        taskQueue: deps.taskQueue,
        args: [s.input satisfies ReviewStackInput],
        signal: reviewPushSignal,
        signalArgs: [s.push],
      });
      out.push({ stack, action: 'push', result: 'signalled' });
    } else if (s.close) {
      try {
        await deps.temporal.workflow.getHandle(s.workflowId).signal(reviewCloseSignal, s.close);
        out.push({ stack, action: 'close', result: 'signalled' });
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        out.push({ stack, action: 'close', result: 'no review stack' });
      }
    }
  }
  return out;
}
