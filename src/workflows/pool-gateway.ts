import { allHandlersFinished, ApplicationFailure, condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { PoolGatewayActivities } from '../activities/pool-gateway';
import { PoolStoreRequest, type PoolGatewayInput } from '../shared/pool-store';
import { poolStoreUpdate } from './pool-gateway-definitions';
import { describeIssues } from '../shared/issues';

const store = proxyActivities<PoolGatewayActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5, maximumInterval: '5 seconds' },
});

/** Without requests for this long the gateway ends; the pool worker's next request starts it again. */
const IDLE = '1 hour';
const MAX_HISTORY = 5_000;

/**
 * A runner pool worker's way to the store: it reaches only Temporal, so each store operation it needs
 * is a Workflow Update of this workflow (one per worker, on the main queue), carried out by a shared
 * activity on the main queue's workers. The history is kept short by continuing as new.
 */
export async function poolGateway(input: PoolGatewayInput): Promise<void> {
  const bound = input.maxHistory ?? MAX_HISTORY;
  let served = 0;
  setHandler(
    poolStoreUpdate,
    (req) => {
      served++;
      return store.poolStoreOperation(input.pool, req);
    },
    {
      // Refused before it reaches the history: malformed, or for another pool.
      validator: (req) => {
        const parsed = PoolStoreRequest.safeParse(req);
        if (!parsed.success) throw ApplicationFailure.nonRetryable(`invalid store request: ${describeIssues(parsed.error.issues)}`, 'InvalidRequest');
        if (parsed.data.pool !== input.pool) throw ApplicationFailure.nonRetryable(`this gateway serves pool ${input.pool}`, 'InvalidRequest');
      },
    },
  );
  const full = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > bound;
  for (;;) {
    const seen = served;
    const woke = await condition(() => full() || served !== seen, IDLE);
    if (full()) break;
    if (!woke && allHandlersFinished()) return;
  }
  await condition(allHandlersFinished);
  await continueAsNew<typeof poolGateway>(input);
}
