import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import type { ActivityDeps, OpenDeployment } from './context';
import { LogWriter } from './log-writer';

/**
 * Runs one deployment step: marks it running, gives it a log, and records how it ended.
 * Failures are not retried: re-running a half-done Pulumi operation silently is never safe.
 */
export async function runStep<T>(
  deps: ActivityDeps,
  o: OpenDeployment,
  step: number,
  body: (log: LogWriter) => Promise<T>,
): Promise<T> {
  const { store } = deps;
  await store.setStep(o.input.id, step, 'running');
  const log = await LogWriter.open(store, o.input.id, step, o.masker);
  try {
    const result = await body(log);
    await log.close();
    await store.setStep(o.input.id, step, 'succeeded');
    return result;
  } catch (err) {
    const cancelled = err instanceof CancelledFailure || (err as Error)?.name === 'AbortError';
    const message = o.masker.mask(cancelled ? 'Cancelled.' : ((err as Error)?.message ?? String(err)));
    log.line(message);
    await log.close();
    await store.setStep(o.input.id, step, 'failed');
    if (cancelled) throw err;
    // A step may classify its failure (e.g. PulumiInterrupted); anything else is a plain step failure.
    throw ApplicationFailure.nonRetryable(message, err instanceof ApplicationFailure && err.type ? err.type : 'StepFailed');
  }
}
