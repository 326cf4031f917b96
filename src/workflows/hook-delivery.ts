import { log, proxyActivities } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import type { HookDeliveryInput } from '../shared/hooks';

/**
 * One per hook delivery (workflow id hook-delivery/<delivery id>), started by publishEvent and
 * never awaited by anything: a slow or failing receiver delays no deployment. Each attempt is an
 * activity, retried with exponential backoff (by default 7 tries over about an hour).
 */
export async function hookDelivery({ deliveryId, retry }: HookDeliveryInput): Promise<boolean> {
  const { deliverHook } = proxyActivities<SharedActivities>({
    startToCloseTimeout: '1 minute',
    retry: {
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: 2,
      maximumAttempts: retry.maximumAttempts,
      nonRetryableErrorTypes: ['HooksUnavailable'],
    },
  });
  try {
    return await deliverHook(deliveryId);
  } catch (err) {
    log.warn('hook delivery gave up', { deliveryId, error: String(err) });
    return false;
  }
}
