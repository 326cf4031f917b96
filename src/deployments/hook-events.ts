import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { EVENT_KINDS, HookEventName, PublishedEvent, hookWants, type HookDeliveryInput, type HookRetry } from '../shared/hooks';
import type { DeploymentRecord } from '../store/deployments';
import { HookStore, type HookRecord } from '../store/hooks';
import type { Store } from '../store/store';
import { slackMessage, teamsMessage } from './hook-format';

/** What publishing and delivering hook events needs. */
export interface HookDeps {
  store: Store;
  temporal: Client;
  taskQueue: string;
  publicUrl: string;
  hooks: HookSettings;
  log: { error(meta: object, message: string): void };
}

export interface HookSettings {
  retry: HookRetry;
  /** STACKWRIGHT_WEBHOOK_ALLOW_PRIVATE */
  allowPrivate: boolean;
}

/** Seven tries over about an hour: 1, 2, 4, ... 32 minutes apart. */
export const hookRetry = (initialSeconds: number): HookRetry => ({ initialIntervalMs: initialSeconds * 1000, maximumAttempts: 7 });

export const hookDeliveryWorkflowId = (deliveryId: string): string => `hook-delivery/${deliveryId}`;

/** A UUID-shaped id derived from `text`: the same event reaching the same hook gets the same delivery. */
export function derivedId(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Publishes one event: a delivery is recorded for each active hook of the stack and of its organization
 * that wants it, and a delivery workflow started for each; nothing waits for the receivers.
 * `eventKey` identifies the event: publishing it again (a retried activity) starts nothing new.
 * Returns the ids of the deliveries.
 */
export async function publishHookEvent(deps: HookDeps, input: PublishedEvent, eventKey: string): Promise<string[]> {
  const event = PublishedEvent.parse(input);
  const hooks = (await new HookStore(deps.store.db).hooksFor(event.organization, event.project, event.stack)).filter((h) => h.active && hookWants(h, event.kind));
  if (hooks.length === 0) return [];
  const deployment = event.deploymentId ? await deps.store.getDeploymentById(event.deploymentId) : undefined;
  const payload = eventPayload(deps.publicUrl, event, deployment);
  const ids: string[] = [];
  for (const hook of hooks) {
    const id = derivedId(`${eventKey}\n${hook.org}/${hook.project ?? ''}/${hook.stack ?? ''}/${hook.name}`);
    await new HookStore(deps.store.db).addDelivery(hook, {
      id,
      messageId: id,
      hook: hook.name,
      event: event.kind,
      kind: EVENT_KINDS[event.kind],
      payload: JSON.stringify(render(hook, event, payload)),
      requestUrl: hook.payloadUrl,
    });
    await startDelivery(deps, id);
    ids.push(id);
  }
  return ids;
}

/** Starts the delivery workflow of a recorded delivery (once: its id is the delivery's). */
export async function startDelivery(deps: Pick<HookDeps, 'temporal' | 'taskQueue' | 'hooks'>, deliveryId: string): Promise<void> {
  const input: HookDeliveryInput = { deliveryId, retry: deps.hooks.retry };
  try {
    await deps.temporal.workflow.start('hookDelivery', { workflowId: hookDeliveryWorkflowId(deliveryId), taskQueue: deps.taskQueue, args: [input] });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

type Payload = Record<string, unknown>;

/** Pulumi's payload for the event's kind, then the publisher's `data` on top. */
export function eventPayload(publicUrl: string, e: PublishedEvent & { data: Payload }, d: DeploymentRecord | undefined): Payload {
  const who = d?.requestedBy ?? 'stackwright';
  const base: Payload = {
    user: { name: who, githubLogin: who, avatarUrl: '' },
    organization: { name: e.organization, githubLogin: e.organization, avatarUrl: '' },
    projectName: e.project,
    stackName: e.stack,
  };
  const url = d && `${publicUrl}/api/stacks/${d.org}/${d.project}/${d.stack}/deployments/${d.id}`;
  const result = e.kind.endsWith('_failed') ? 'failed' : 'succeeded';
  const kind = EVENT_KINDS[e.kind as HookEventName];
  const byKind: Payload =
    !d ? {}
    : kind === 'deployment' || kind === 'deployment_ttl' || kind === 'deployment_approval' ? { deploymentUrl: url, version: d.version, operation: d.operation, status: d.status, deploymentId: d.id }
    : kind === 'stack_update' || kind === 'stack_preview' ? { updateUrl: url, kind: d.operation, result, resourceChanges: d.resourceChanges ?? {}, isPreview: kind === 'stack_preview' }
    : kind === 'drift_detection' ? { driftDetected: d.driftDetected === true, driftRunId: d.id, status: result, resourceChanges: d.resourceChanges ?? {}, referenceUrl: url }
    : kind === 'drift_remediation' ? { status: result, resourceChanges: d.resourceChanges ?? {}, referenceUrl: url }
    : {};
  return { ...base, ...byKind, ...e.data };
}

/** The body a hook receives: the payload itself, or a chat message about it. */
function render(hook: HookRecord, e: { kind: HookEventName; organization: string; project: string; stack: string }, p: Payload): unknown {
  if (hook.format !== 'slack' && hook.format !== 'ms_teams') return p;
  const facts = {
    event: e.kind,
    stack: `${e.organization}/${e.project}/${e.stack}`,
    operation: (p.operation ?? p.kind) as string | undefined,
    status: (p.status ?? p.result) as string | undefined,
    link: (p.deploymentUrl ?? p.updateUrl ?? p.referenceUrl) as string | undefined,
  };
  return hook.format === 'slack' ? slackMessage(facts) : teamsMessage(facts);
}
