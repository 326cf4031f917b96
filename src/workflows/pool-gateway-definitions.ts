import { defineUpdate } from '@temporalio/workflow';
import { POOL_STORE_UPDATE, type PoolStoreRequest } from '../shared/pool-store';

/** One store operation of a runner pool's worker; answers with the operation's result. */
export const poolStoreUpdate = defineUpdate<unknown, [PoolStoreRequest]>(POOL_STORE_UPDATE);
