import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { OpenDeployment, WorkspaceDeps } from './context';
import { LogWriter } from './log-writer';

/**
 * Runs one deployment step: marks it running, gives it a log, and records how it ended.
 * Failures are not retried: re-running a half-done Pulumi operation silently is never safe.
 */
export async function runStep<T>(
  deps: WorkspaceDeps,
  o: OpenDeployment,
  step: number,
  body: (log: LogWriter) => Promise<T>,
): Promise<T> {
  const store = deps.workspaceStore;
  await store.setStep(o.input.id, step, 'running');
  const log = await LogWriter.open(store, o.input.id, step, o.masker, { windowMs: store.logWindowMs });
  try {
    const result = await body(log);
    await log.close();
    await store.setStep(o.input.id, step, 'succeeded');
    return result;
  } catch (err) {
    // The drain time of a stopping worker is over: a failure, not a user's cancel.
    const stopped = err instanceof CancelledFailure || (err as Error)?.name === 'AbortError';
    const shutdown = stopped && isWorkerShutdown();
    const cancelled = stopped && !shutdown;
    const message = shutdown
      ? 'Interrupted: the worker shut down before the step finished.'
      : o.masker.mask(cancelled ? 'Cancelled.' : ((err as Error)?.message ?? String(err)));
    log.line(message);
    await log.close();
    await store.setStep(o.input.id, step, 'failed');
    if (cancelled) throw err;
    // A step may classify its failure (e.g. PulumiInterrupted); anything else is a plain step failure.
    const type = shutdown ? 'WorkerShutdown' : err instanceof ApplicationFailure && err.type ? err.type : 'StepFailed';
    throw ApplicationFailure.nonRetryable(message, type);
  } finally {
    o.close?.();
  }
}

/** The cancellation the SDK sends to running activities once a stopping worker's grace time is over. */
export function isWorkerShutdown(signal: AbortSignal = Context.current().cancellationSignal): boolean {
  return signal.reason instanceof CancelledFailure && signal.reason.message === 'WORKER_SHUTDOWN';
}
