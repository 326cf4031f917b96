import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ApprovalState, DecisionRequest } from '../shared/approval';

/** Approve or reject a deployment waiting for approval; the validator refuses at once who may not decide. */
export const approveUpdate = defineUpdate<ApprovalState, [DecisionRequest]>('approve');
export const rejectUpdate = defineUpdate<ApprovalState, [DecisionRequest]>('reject');
export const approvalQuery = defineQuery<ApprovalState>('approval');

/** Error types of a refused decision (the API answers 403 for NotAnApprover, 409 for the others). */
export const REFUSED = { notAnApprover: 'NotAnApprover', notWaiting: 'NotWaiting', alreadyDecided: 'AlreadyDecided' } as const;
