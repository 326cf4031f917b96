import { z } from 'zod';

/** A runner pool's name (`agentPoolID`, `STACKWRIGHT_POOL`); it becomes part of a task queue's name. */
export const PoolName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'a pool name: letters, digits, _ . - (at most 100 characters)');

/**
 * The task queue a pool's workers take deployments from (they answer with their own workspace
 * queue). Only that pool's workers poll it, so its deployments run nowhere else.
 */
export const poolQueue = (mainQueue: string, pool: string): string => `${mainQueue}/pool/${pool}`;
