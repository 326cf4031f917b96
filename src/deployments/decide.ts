import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { deploymentWorkflowId } from '../shared/ids';
import type { StackRef } from '../shared/names';
import type { ApprovalState, DecisionRequest } from '../shared/approval';
import type { Store } from '../store/store';
import { approveUpdate, REFUSED, rejectUpdate } from '../workflows/approval-definitions';

/** A decision that was not taken, with the HTTP status that says why. */
export class DecisionRefused extends Error {
  constructor(
    readonly status: 403 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Approves or rejects a deployment waiting for approval: a Temporal update of its workflow, whose
 * validator decides whether this decider may (so a refusal is answered at once and leaves no trace
 * in the history); an accepted decision is in the record and the log when this returns.
 */
export async function decide(
  deps: { store: Store; temporal: Client },
  ref: StackRef,
  id: string,
  decision: 'approve' | 'reject',
  req: DecisionRequest,
): Promise<ApprovalState> {
  const d = await deps.store.getDeployment(ref, id);
  if (!d) throw new DecisionRefused(404, 'deployment not found');
  if (d.status !== 'waiting-for-approval') throw new DecisionRefused(409, `the deployment is not waiting for approval (it is ${d.status})`);
  const handle = deps.temporal.workflow.getHandle(deploymentWorkflowId(ref, d.version));
  try {
    return await handle.executeUpdate(decision === 'approve' ? approveUpdate : rejectUpdate, { args: [req] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new DecisionRefused(409, 'the deployment is not waiting for approval (its workflow ended)');
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type) {
      throw new DecisionRefused(cause.type === REFUSED.notAnApprover ? 403 : 409, cause.message);
    }
    throw err;
  }
}
