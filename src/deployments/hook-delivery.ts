import type { SecretBox } from '../secret-box';
import { deploymentTarget } from '../shared/hooks';
import { HookStore, type DeliveryOutcome, type DeliveryRecord } from '../store/hooks';
import { QueueUnavailable } from './queue';
import { delivered, RefusedTarget, sendHook } from './hook-send';
import { CannotDeploy, queueStoredUpdate } from './stored-update';
import type { HookDeps } from './hook-events';

export interface AttemptResult {
  delivery?: DeliveryRecord;
  ok: boolean;
  /** Another attempt may succeed (the receiver failed, Temporal was unreachable). */
  retryable: boolean;
}

/**
 * One attempt of a recorded delivery, recorded on it: a POST to the hook's URL, or for a
 * `pulumi_deployments` hook an update of its target stack queued with that stack's own settings.
 */
export async function attemptDelivery(deps: HookDeps & { box: SecretBox }, deliveryId: string, attempt: number): Promise<AttemptResult> {
  const hooks = new HookStore(deps.store.db);
  const d = await hooks.getDelivery(deliveryId);
  const hook = d && (await hooks.getHook(d.scope, d.hook));
  if (!d || !hook) return { ok: false, retryable: false }; // the hook was deleted since
  let outcome: DeliveryOutcome;
  let retryable = true;
  if (hook.format === 'pulumi_deployments') {
    const started = Date.now();
    const target = deploymentTarget(hook.payloadUrl)!;
    const base = { timestamp: Math.floor(started / 1000), attempt, requestUrl: hook.payloadUrl, requestHeaders: '', responseHeaders: '' };
    try {
      const r = await queueStoredUpdate(deps, { org: hook.org, ...target }, { initiator: 'webhook', requestedBy: `hook ${hook.name}` });
      outcome = { ...base, duration: Date.now() - started, responseCode: 202, responseBody: JSON.stringify({ id: r.id, version: r.version }) };
    } catch (err) {
      if (!(err instanceof CannotDeploy) && !(err instanceof QueueUnavailable)) throw err;
      retryable = err instanceof QueueUnavailable;
      outcome = { ...base, duration: Date.now() - started, responseCode: retryable ? 503 : 400, responseBody: err.message };
    }
  } else {
    try {
      outcome = await sendHook({
        url: d.requestUrl,
        body: d.payload,
        kind: d.kind,
        deliveryId: d.id,
        messageId: d.messageId,
        secret: hook.secret ? deps.box.decrypt(hook.secret) : undefined,
        attempt,
        allowPrivate: deps.hooks.allowPrivate,
      });
    } catch (err) {
      if (!(err instanceof RefusedTarget)) throw err;
      retryable = false;
      outcome = { timestamp: Math.floor(Date.now() / 1000), attempt, duration: 0, requestUrl: d.requestUrl, requestHeaders: '', responseCode: 0, responseHeaders: '', responseBody: `refused: ${err.message}` };
    }
  }
  await hooks.recordAttempt(d.id, outcome);
  const ok = delivered(outcome);
  return { delivery: { ...d, ...outcome }, ok, retryable: !ok && retryable };
}
