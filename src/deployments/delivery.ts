import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { deliveryHandledSignal, type DeliveryOutcome, type webhookDelivery } from '../workflows/webhook-delivery';

/**
 * Claims a webhook delivery so that it starts deployments at most once, across API processes and
 * restarts: starting the `webhookDelivery` workflow with ID delivery/<provider>/<id> is the claim.
 * A concurrent duplicate fails to start (conflict policy FAIL, the claim is running); a later one is
 * rejected while Temporal retains the completed claim (the namespace's retention period). A claim
 * whose handling failed or was abandoned ends failed, which ALLOW_DUPLICATE_FAILED_ONLY lets the
 * sender's redelivery claim again. Returns undefined when another request holds the delivery.
 */
export async function claimDelivery(deps: { temporal: Client; taskQueue: string }, provider: string, deliveryId: string): Promise<((o: DeliveryOutcome) => Promise<void>) | undefined> {
  try {
    const handle = await deps.temporal.workflow.start<typeof webhookDelivery>('webhookDelivery', {
      workflowId: deliveryWorkflowId(provider, deliveryId),
      taskQueue: deps.taskQueue,
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      workflowIdConflictPolicy: 'FAIL',
    });
    return (o) => handle.signal(deliveryHandledSignal, o);
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
    throw err;
  }
}

/** Delivery IDs come from the sender; a hash keeps odd characters and lengths out of the workflow ID. */
export const deliveryWorkflowId = (provider: string, deliveryId: string): string =>
  `delivery/${provider}/${/^[A-Za-z0-9._-]{1,100}$/.test(deliveryId) ? deliveryId : createHash('sha256').update(deliveryId).digest('hex')}`;
