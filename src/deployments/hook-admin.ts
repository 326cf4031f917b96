import { randomBytes, randomUUID } from 'node:crypto';
import type { SecretBox } from '../secret-box';
import { HookStore, type DeliveryRecord, type HookRecord } from '../store/hooks';
import { attemptDelivery } from './hook-delivery';
import type { HookDeps } from './hook-events';

/** A short random hook name, as Pulumi's (`bd7e0a35`). */
export const newHookName = (): string => randomBytes(4).toString('hex');

const PING_MESSAGE = '🍹 Just a friendly ping from Stackwright 🍹';

/** Ping and redeliver are sent at once, one attempt, and answered with the delivery (as Pulumi does). */
async function sendNow(deps: HookDeps & { box: SecretBox }, hook: HookRecord, d: Pick<DeliveryRecord, 'id' | 'messageId' | 'event' | 'kind' | 'payload'>): Promise<DeliveryRecord> {
  await new HookStore(deps.store.db).addDelivery(hook, { ...d, hook: hook.name, requestUrl: hook.payloadUrl });
  const r = await attemptDelivery(deps, d.id, 1);
  return r.delivery!;
}

export function pingHook(deps: HookDeps & { box: SecretBox }, hook: HookRecord): Promise<DeliveryRecord> {
  const id = randomUUID();
  const payload = JSON.stringify({ timestamp: Math.floor(Date.now() / 1000), message: PING_MESSAGE });
  return sendNow(deps, hook, { id, messageId: id, event: 'ping', kind: 'ping', payload });
}

/** Sends a recorded delivery's payload again, unchanged, as a new delivery with the same webhook-id. */
export function redeliver(deps: HookDeps & { box: SecretBox }, hook: HookRecord, original: DeliveryRecord): Promise<DeliveryRecord> {
  return sendNow(deps, hook, { id: randomUUID(), messageId: original.messageId, event: original.event, kind: original.kind, payload: original.payload });
}
