import type { StackRef } from '../shared/names';
import { stepNames, type DeploymentInput, type DeploymentTrigger, type Operation } from '../shared/deployment';
import type { DeploymentSettings } from '../shared/settings';
import { stackWorkflowId } from '../shared/ids';
import { StackAttr } from '../shared/search-attributes';
import { stackKey } from '../shared/names';
import { enqueueSignal } from '../workflows/definitions';
import type { stackQueue } from '../workflows/stack-queue';
import type { ApiDeps } from './deps';

export interface NewDeploymentRequest {
  operation: Operation;
  /** Complete, sealed settings the deployment runs with. */
  settings: DeploymentSettings;
  inheritSettings: boolean;
  initiator: string;
  requestedBy: string;
  trigger?: DeploymentTrigger;
  /** Queued or running deployments with the same key are superseded by this one. */
  supersedeKey?: string;
}

export class QueueUnavailable extends Error {}

/** What queueing needs: the API has it, and so does a worker that queues a follow-up deployment. */
export type EnqueueDeps = Pick<ApiDeps, 'store' | 'temporal' | 'taskQueue'> & { log: { error(meta: object, message: string): void } };

/** Records a deployment and adds it to its stack's queue (starting the queue workflow if needed). */
export async function enqueueDeployment(deps: EnqueueDeps, ref: StackRef, req: NewDeploymentRequest): Promise<{ id: string; version: number }> {
  const { store } = deps;
  const record = await store.createDeployment(ref, {
    operation: req.operation,
    settings: req.settings,
    inheritSettings: req.inheritSettings,
    initiator: req.initiator,
    requestedBy: req.requestedBy,
    steps: stepNames(req.settings),
  });
  const input: DeploymentInput = {
    ...ref,
    id: record.id,
    version: record.version,
    operation: req.operation,
    settings: req.settings,
    requestedAt: Date.now(),
    ...(req.trigger && { trigger: req.trigger }),
    ...(req.supersedeKey && { supersedeKey: req.supersedeKey }),
  };
  try {
    await deps.temporal.workflow.signalWithStart<typeof stackQueue, [DeploymentInput]>('stackQueue', {
      workflowId: stackWorkflowId(ref),
      taskQueue: deps.taskQueue,
      args: [{ stack: ref }],
      signal: enqueueSignal,
      signalArgs: [input],
      typedSearchAttributes: [{ key: StackAttr, value: stackKey(ref) }],
    });
  } catch (err) {
    deps.log.error({ err, deployment: record.id }, 'could not queue deployment');
    // Closing its steps too, or its log stream would wait forever.
    await store.finishDeployment(record.id, 'failed', 'could not reach Temporal to queue the deployment');
    throw new QueueUnavailable('could not reach Temporal to queue the deployment; try again');
  }
  return { id: record.id, version: record.version };
}
