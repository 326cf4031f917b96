import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { chainWorkflowId, type ChainState } from '../shared/chain';
import { chainStateQuery } from '../workflows/chain';

/** The chain an update started, as its workflow tells it; undefined when that update started none. */
export async function chainState(temporal: Client, org: string, deploymentId: string): Promise<(ChainState & { workflowId: string }) | undefined> {
  const handle = temporal.workflow.getHandle(chainWorkflowId(org, deploymentId));
  try {
    const [d, state] = await Promise.all([handle.describe(), handle.query(chainStateQuery)]);
    // The workflow's own status is the last word once it closed (a cancel, a termination).
    const closed: Record<string, ChainState['status']> = { COMPLETED: 'succeeded', FAILED: 'failed', CANCELLED: 'cancelled', TERMINATED: 'failed', TIMED_OUT: 'failed' };
    return { ...state, status: closed[d.status.name] ?? state.status, workflowId: handle.workflowId };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Cancels a whole chain: its running links stop their deployments; no later stack starts. False when there is none. */
export async function cancelChain(temporal: Client, org: string, deploymentId: string): Promise<boolean> {
  try {
    await temporal.workflow.getHandle(chainWorkflowId(org, deploymentId)).cancel();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
