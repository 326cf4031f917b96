import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { StackRef } from '../shared/names';

export type { FiringCheck, QueuedFiring, TtlEvent } from '../shared/schedule-firing';

/** What a Temporal Schedule's action starts: one firing of a Stackwright schedule. */
export interface ScheduledDeploymentInput extends StackRef {
  scheduleId: string;
}

/** A TTL schedule's current terms; updating the schedule signals new ones to its workflow. */
export interface TtlTerms {
  /** ISO 8601, UTC. */
  deadline: string;
  deleteAfterDestroy: boolean;
  paused: boolean;
}

export interface TtlInput extends StackRef {
  scheduleId: string;
  terms: TtlTerms;
  /** How long before the deadline each deployment_ttl_warning is recorded (ms). */
  warningLeadsMs: number[];
}

export const ttlUpdateSignal = defineSignal<[TtlTerms]>('ttlUpdate');
export const ttlStateQuery = defineQuery<{ terms: TtlTerms; phase: 'waiting' | 'destroying' | 'removing' | 'done'; attempts: number }>('ttlState');
