import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { stackWorkflowId } from '../shared/ids';
import type { StackRef } from '../shared/names';
import type { Store } from '../store/store';
import { cancelSignal, wakeSignal } from '../workflows/definitions';
import { skipQueued } from './transitions';

/** Signals a stack's queue workflow; false when it is not running (nothing queued). */
async function signalQueue(temporal: Client, ref: StackRef, send: (h: WorkflowHandle) => Promise<void>): Promise<boolean> {
  try {
    await send(temporal.workflow.getHandle(stackWorkflowId(ref)));
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** Asks a stack's queue to check its pause state again (after a resume). */
export const wakeQueue = (temporal: Client, ref: StackRef): Promise<boolean> => signalQueue(temporal, ref, (h) => h.signal(wakeSignal));

/** Cancels a deployment: its queue skips it or stops it; without a queue nothing will run it, so it is skipped here. */
export async function cancelDeployment(deps: { store: Store; temporal: Client }, ref: StackRef, id: string): Promise<void> {
  const signalled = await signalQueue(deps.temporal, ref, (h) => h.signal(cancelSignal, id));
  if (!signalled) await skipQueued(deps.store, id, 'Cancelled before it started.');
}
