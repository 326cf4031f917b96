import type { StackRef } from './names';

/** What queueing a firing gave: a deployment, or why none (the schedule is gone, or it could not be requested). */
export type QueuedFiring = { deploymentId: string; version: number } | { notQueued: 'gone' | 'failed'; message: string };

/** Whether a firing may queue a deployment now. */
export type FiringCheck =
  | { state: 'ready'; version: number }
  | { state: 'gone' }
  | { state: 'paused' }
  | { state: 'busy'; version: number; deploymentVersion: number; status: string };

/** The outcome of a TTL's destroy attempt, as its warnings and failures are recorded. */
export interface TtlEvent extends StackRef {
  scheduleId: string;
  deadline: string;
  /** deployment_ttl_warning: the lead time (ms); destroy failures: the attempt and when the next one is. */
  leadMs?: number;
  attempt?: number;
  deploymentId?: string;
  retryInMs?: number;
  message?: string;
}
