import { z } from 'zod';
import { PoolName } from './pools';

/**
 * The store operations a runner pool's worker may ask of the main queue's workers: a closed list,
 * each scoped to one deployment of the asking pool (checked against the store, not the request).
 * A pool worker reaches only Temporal, and is trusted less than the control plane.
 */
const Deployment = { pool: PoolName, deploymentId: z.string().min(1).max(200) };
const LogLine = z.object({ seq: z.number().int().nonnegative(), ts: z.string().max(64), line: z.string().max(1_000_000) });

export const PoolStoreRequest = z.discriminatedUnion('op', [
  z.object({ op: z.literal('sealedSettings'), ...Deployment }),
  // The deployment's own stack, or (review stacks) the template stack its config is copied from.
  z.object({ op: z.literal('passphraseScheme'), ...Deployment, of: z.enum(['stack', 'template']) }),
  z.object({ op: z.literal('setStep'), ...Deployment, step: z.number().int().nonnegative(), status: z.enum(['running', 'succeeded', 'failed']) }),
  z.object({ op: z.literal('countLogs'), ...Deployment, step: z.number().int().nonnegative() }),
  z.object({ op: z.literal('appendLogs'), ...Deployment, step: z.number().int().nonnegative(), lines: z.array(LogLine).max(1000) }),
  z.object({ op: z.literal('cacheGeneration'), ...Deployment }),
  z.object({ op: z.literal('recordCacheLookup'), ...Deployment, result: z.enum(['hit', 'miss']) }),
  z.object({ op: z.literal('recordChanges'), ...Deployment, changes: z.record(z.string().max(100), z.number().int().nonnegative()), driftDetected: z.boolean().nullable() }),
  z.object({ op: z.literal('reviewTemplate'), ...Deployment }),
  z.object({ op: z.literal('deploymentState'), ...Deployment }),
  z.object({ op: z.literal('workerStarted'), pool: PoolName }),
]);
export type PoolStoreRequest = z.infer<typeof PoolStoreRequest>;

/** The update of the pool gateway workflow that carries one request (src/workflows/pool-gateway.ts). */
export const POOL_STORE_UPDATE = 'poolStore';

export interface PoolGatewayInput {
  pool: string;
  /** Continue as new past this many history events (a bound below Temporal's own suggestion, for tests). */
  maxHistory?: number;
}
