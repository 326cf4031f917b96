import { defineSignal } from '@temporalio/workflow';
import type { ReviewClose, ReviewPush } from '../shared/review';

/** The pull request has new code: create the review stack if needed, then update it. */
export const reviewPushSignal = defineSignal<[ReviewPush]>('reviewPush');

/** The pull request was merged or closed: destroy the review stack, then remove it. */
export const reviewCloseSignal = defineSignal<[ReviewClose]>('reviewClose');
