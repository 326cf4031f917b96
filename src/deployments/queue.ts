import type { Client } from '@temporalio/client';
import { stackWorkflowId } from '../shared/ids';
import { stackKey, type StackRef } from '../shared/names';
import { StackAttr } from '../shared/search-attributes';
import type { DeploymentInput } from '../shared/deployment';
import type { IdempotencyKey } from '../store/deployments';
import type { Store } from '../store/store';
import { enqueueSignal } from '../workflows/definitions';
import type { stackQueue } from '../workflows/stack-queue';
import { deploymentInput, recordDeployment, type NewDeploymentRequest } from './create';
import { failUnqueued } from './transitions';
import { publishHookEvent, type HookSettings } from './hook-events';

export type { NewDeploymentRequest } from './create';

/** What queueing needs: a store, a Temporal client and the task queue of the workflows. */
export interface QueueDeps {
  store: Store;
  temporal: Client;
  taskQueue: string;
  log: { error(meta: object, message: string): void };
  /** Set where hook events are published (deployment_queued). */
  hooks?: HookSettings;
  publicUrl?: string;
}

/** Temporal could not be reached and nothing will run; the request may be sent again. */
export class QueueUnavailable extends Error {}

export interface Requested {
  id: string;
  version: number;
  /** The answer to an earlier request with the same idempotency key. */
  replayed: boolean;
}

/**
 * Records a deployment and adds it to its stack's queue (starting the queue workflow if needed).
 * When the queue cannot be reached the record ends failed and the idempotency key is freed, so the
 * caller can say truthfully that nothing will run: should the signal have arrived after all, the
 * deployment workflow's claim (not-started → running) fails and it runs nothing.
 */
export async function requestDeployment(deps: QueueDeps, ref: StackRef, req: NewDeploymentRequest, idempotency?: IdempotencyKey): Promise<Requested> {
  const { record, replayed } = await recordDeployment(deps.store, ref, req, idempotency);
  const answer = { id: record.id, version: record.version, replayed };
  // A replayed request whose deployment never started is queued again: the queue ignores a
  // deployment it already holds, and a deployment that ran cannot be claimed twice.
  if (replayed && record.status !== 'not-started') return answer;
  const input = deploymentInput(ref, record, req, replayed ? Date.parse(record.created) : Date.now());
  try {
    await signalQueue(deps, ref, input);
  } catch (err) {
    deps.log.error({ err, deployment: record.id }, 'could not queue deployment');
    if (await failUnqueued(deps.store, record.id, 'Not run: Temporal could not be reached to queue the deployment.')) {
      await deps.store.releaseIdempotencyKey(record.id);
      throw new QueueUnavailable('could not reach Temporal to queue the deployment; nothing was queued and nothing will run, so the request can be sent again');
    }
    // Its queue already started it: the signal got through.
  }
  if (deps.hooks && !replayed) {
    const { hooks } = deps;
    const event = { kind: 'deployment_queued' as const, organization: ref.org, project: ref.project, stack: ref.stack, deploymentId: record.id, data: { status: 'not-started' } };
    // Hooks never hold up (or fail) a deployment request.
    await publishHookEvent({ ...deps, hooks, publicUrl: deps.publicUrl ?? '' }, event, `${record.id}/deployment_queued`).catch((err: unknown) =>
      deps.log.error({ err, deployment: record.id }, 'could not publish the deployment_queued event'),
    );
  }
  return answer;
}

function signalQueue(deps: QueueDeps, ref: StackRef, input: DeploymentInput) {
  return deps.temporal.workflow.signalWithStart<typeof stackQueue, [DeploymentInput]>('stackQueue', {
    workflowId: stackWorkflowId(ref),
    taskQueue: deps.taskQueue,
    args: [{ stack: ref }],
    signal: enqueueSignal,
    signalArgs: [input],
    typedSearchAttributes: [{ key: StackAttr, value: stackKey(ref) }],
  });
}
