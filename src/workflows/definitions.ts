import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DeploymentInput } from '../shared/deployment';

/** Adds a deployment to the end of a stack's queue. */
export const enqueueSignal = defineSignal<[DeploymentInput]>('enqueue');

export interface QueueState {
  running?: { id: string; version: number };
  queued: { id: string; version: number }[];
}
export const queueStateQuery = defineQuery<QueueState>('queueState');
