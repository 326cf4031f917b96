import { mkdirSync } from 'node:fs';
import { ApplicationFailure, Context, cancellationSignal } from '@temporalio/activity';
import { LocalWorkspace, PulumiCommand, Stack, type OpMap } from '@pulumi/pulumi/automation';
import type { ActivityDeps, OpenDeployment } from './context';
import { Liveness } from './liveness';
import type { LogWriter } from './log-writer';
import { safeHeartbeat } from './run-process';
import { killProcessesIn } from './process-tree';

export interface PulumiSummary {
  result: string;
  resourceChanges: OpMap;
}

/**
 * Runs the deployment's Pulumi operation through the Automation API on the cloned program.
 * Cancellation sends SIGINT (Pulumi's graceful stop); after the grace period whatever still runs
 * in the program directory is killed.
 */
export async function pulumiOperation(o: OpenDeployment, log: LogWriter, deps: ActivityDeps): Promise<PulumiSummary> {
  const { killGraceMs, pulumiRoot } = deps;
  // Stopped by a cancel (Temporal) or by the liveness checks; either way Pulumi gets SIGINT first.
  const stopper = new AbortController();
  const signal = stopper.signal;
  const cancelled = cancellationSignal();
  const onCancel = () => stopper.abort(cancelled.reason);
  cancelled.addEventListener('abort', onCancel, { once: true });
  const liveness = new Liveness(deps.pulumiIdleTimeoutMs, deps.pulumiMaxDurationMs, (reason) => {
    log.line(`Stopping pulumi: ${reason}.`);
    stopper.abort();
  });
  let forceStop: NodeJS.Timeout | undefined;
  const onAbort = () => {
    if (cancelled.aborted) log.line(`Cancellation requested: stopping pulumi (force stop in ${Math.round(killGraceMs / 1000)} s).`);
    forceStop = setTimeout(() => {
      const killed = killProcessesIn(o.programDir);
      if (killed.length) log.line(`Pulumi did not stop in time; killed ${killed.length} process(es).`);
    }, killGraceMs).unref();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const beat = setInterval(() => safeHeartbeat(), 5_000);
  const common = {
    color: 'never' as const,
    signal,
    onOutput: (out: string) => {
      // Not a sign of progress: the CLI's display prints a ticker while it waits.
      safeHeartbeat();
      log.write(out);
    },
    onEvent: () => liveness.alive(),
    onError: (err: string) => log.write(err),
  };
  log.line(`$ pulumi ${o.input.operation === 'update' ? 'up' : o.input.operation} --stack ${o.input.stack}`);
  try {
    const stack = await selectStack(o, pulumiRoot);
    switch (o.input.operation) {
      case 'update': {
        const r = await stack.up(common);
        return { result: r.summary.result, resourceChanges: r.summary.resourceChanges ?? {} };
      }
      case 'preview': {
        const r = await stack.preview(common);
        return { result: 'succeeded', resourceChanges: r.changeSummary };
      }
      case 'refresh': {
        const r = await stack.refresh(common);
        return { result: r.summary.result, resourceChanges: r.summary.resourceChanges ?? {} };
      }
      case 'destroy': {
        const r = await stack.destroy(common);
        return { result: r.summary.result, resourceChanges: r.summary.resourceChanges ?? {} };
      }
    }
  } catch (err) {
    if (cancelled.aborted) throw Context.current().cancellationSignal.reason ?? err;
    if (liveness.stoppedBecause) throw ApplicationFailure.nonRetryable(`Pulumi was stopped: ${liveness.stoppedBecause}.`, 'PulumiInterrupted');
    throw new Error(`pulumi ${o.input.operation} failed: ${lastError(err)}`);
  } finally {
    liveness.dispose();
    clearInterval(beat);
    clearTimeout(forceStop);
    signal.removeEventListener('abort', onAbort);
    cancelled.removeEventListener('abort', onCancel);
  }
}

async function selectStack(o: OpenDeployment, pulumiRoot: string): Promise<Stack> {
  const pulumiCommand = await PulumiCommand.get({ root: pulumiRoot, skipVersionCheck: true });
  const { PATH: _path, ...envVars } = o.env;
  // The file backend needs its directory to exist.
  if (envVars.PULUMI_BACKEND_URL.startsWith('file://')) mkdirSync(envVars.PULUMI_BACKEND_URL.slice('file://'.length), { recursive: true });
  mkdirSync(envVars.PULUMI_HOME, { recursive: true });
  const ws = await LocalWorkspace.create({ workDir: o.programDir, pulumiCommand, pulumiHome: envVars.PULUMI_HOME, envVars });
  return Stack.createOrSelect(o.input.stack, ws);
}

/** The CLI's own `error:` line, which says what went wrong without the whole output. */
function lastError(err: unknown): string {
  const stderr = (err as { commandResult?: { stderr?: string } }).commandResult?.stderr ?? (err as Error).message ?? String(err);
  const errors = stderr.split('\n').filter((l) => /^\s*error:/.test(l));
  return (errors.at(-1) ?? stderr.split('\n').find((l) => l.trim()) ?? 'unknown error').trim();
}
