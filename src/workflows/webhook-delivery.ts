import { ApplicationFailure, condition, defineSignal, setHandler } from '@temporalio/workflow';

export interface DeliveryOutcome {
  ok: boolean;
  /** Deployments the delivery started (`org/project/stack@version`). */
  deployments: string[];
}

/** The API's word that it has handled the delivery. */
export const deliveryHandledSignal = defineSignal<[DeliveryOutcome]>('deliveryHandled');

/**
 * One per webhook delivery; its workflow ID (delivery/<provider>/<id>) is the claim that makes a
 * delivery start deployments at most once (see src/deployments/delivery.ts). It fails when the API could
 * not handle the delivery, or never said it did, so that the sender's redelivery may claim it again.
 */
export async function webhookDelivery(): Promise<DeliveryOutcome> {
  let outcome: DeliveryOutcome | undefined;
  setHandler(deliveryHandledSignal, (o) => {
    outcome = o;
  });
  if (!(await condition(() => outcome !== undefined, '10 minutes'))) {
    throw ApplicationFailure.nonRetryable('the delivery was claimed but never handled', 'DeliveryAbandoned');
  }
  if (!outcome!.ok) throw ApplicationFailure.nonRetryable('the delivery could not be handled', 'DeliveryFailed');
  return outcome!;
}
