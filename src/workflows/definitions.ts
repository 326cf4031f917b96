import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DeploymentInput, DeploymentStatus } from '../shared/deployment';

/** Adds a deployment to the end of a stack's queue. */
export const enqueueSignal = defineSignal<[DeploymentInput]>('enqueue');

/** Cancels a deployment of the stack: a queued one is skipped, a running one stopped. */
export const cancelSignal = defineSignal<[string]>('cancel');

/** Asks the queue to check again whether it is paused (sent on resume). */
export const wakeSignal = defineSignal('wake');

/** Sent by the queue to a running deployment: stop, and end with this status and message. */
export interface StopRequest {
  status: Extract<DeploymentStatus, 'failed' | 'skipped'>;
  message: string;
}
export const stopSignal = defineSignal<[StopRequest]>('stop');

export interface QueueState {
  running?: { id: string; version: number };
  queued: { id: string; version: number }[];
}
export const queueStateQuery = defineQuery<QueueState>('queueState');
