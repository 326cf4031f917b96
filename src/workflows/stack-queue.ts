import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeploymentInput } from '../shared/deployment';
import { deploymentWorkflowId } from '../shared/ids';
import { OperationAttr, StackAttr, StatusAttr, VersionAttr } from '../shared/search-attributes';
import { stackKey, type StackRef } from '../shared/names';
import { enqueueSignal, queueStateQuery } from './definitions';
import { deployment } from './deployment';

export interface StackQueueInput {
  stack: StackRef;
  queued?: DeploymentInput[];
}

/**
 * One per stack: runs the stack's deployments one at a time, in the order they were requested.
 * It ends after an idle hour; the next request starts it again (signal-with-start).
 */
export async function stackQueue({ stack, queued = [] }: StackQueueInput): Promise<void> {
  const pending = [...queued];
  let running: DeploymentInput | undefined;
  setHandler(enqueueSignal, (d) => {
    if (running?.id !== d.id && !pending.some((p) => p.id === d.id)) pending.push(d);
  });
  setHandler(queueStateQuery, () => ({
    running: running && { id: running.id, version: running.version },
    queued: pending.map((d) => ({ id: d.id, version: d.version })),
  }));

  for (;;) {
    if (!(await condition(() => pending.length > 0, '1 hour'))) return;
    running = pending.shift()!;
    await executeChild(deployment, {
      workflowId: deploymentWorkflowId(stack, running.version),
      args: [running],
      // Cancelling the queue cancels the running deployment gracefully rather than abandoning it.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      typedSearchAttributes: [
        { key: StackAttr, value: stackKey(stack) },
        { key: OperationAttr, value: running.operation },
        { key: StatusAttr, value: 'accepted' },
        { key: VersionAttr, value: running.version },
      ],
    }).catch(() => undefined); // the deployment records its own failure; the queue moves on
    running = undefined;
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof stackQueue>({ stack, queued: pending });
    }
  }
}
