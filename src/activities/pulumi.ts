import { mkdirSync } from 'node:fs';
import { ApplicationFailure, Context, cancellationSignal } from '@temporalio/activity';
import {
  LocalWorkspace,
  PulumiCommand,
  Stack,
  type DestroyOptions,
  type DestroyResult,
  type OpMap,
  type PreviewOptions,
  type PreviewResult,
  type RefreshOptions,
  type RefreshResult,
  type UpOptions,
  type UpResult,
} from '@pulumi/pulumi/automation';
import type { Operation } from '../shared/deployment';
import type { ActivityDeps, OpenDeployment } from './context';
import { Liveness } from './liveness';
import type { LogWriter } from './log-writer';
import { safeHeartbeat } from './run-process';
import { killProcessesIn } from './process-tree';
import { isWorkerShutdown } from './step';
import { giveToSandbox, pulumiShim } from './sandbox';
import { templateConfig } from './review-config';
import { commandOf, runApprovalPhase, type ApprovalPhase } from './approval-plan';

export interface PulumiSummary {
  result: string;
  resourceChanges: OpMap;
  /** Drift operations: whether the refresh found drift (the workflow queues a remediation from it). */
  driftDetected?: boolean | null;
}

/**
 * Runs the deployment's Pulumi operation through the Automation API on the cloned program.
 * Cancellation sends SIGINT (Pulumi's graceful stop); after the grace period whatever still runs
 * in the program directory is killed.
 */
export async function pulumiOperation(o: OpenDeployment, log: LogWriter, deps: ActivityDeps, phase: ApprovalPhase = { kind: 'run' }): Promise<PulumiSummary> {
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
    const grace = `force stop in ${Math.round(killGraceMs / 1000)} s`;
    if (isWorkerShutdown(cancelled)) log.line(`The worker is shutting down and its drain time is over: stopping pulumi (${grace}).`);
    else if (cancelled.aborted) log.line(`Cancellation requested: stopping pulumi (${grace}).`);
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
  const command = commandOf(o.input.operation, phase);
  log.line(`$ ${command} --stack ${o.input.stack}`);
  try {
    const root = o.sandboxSpec ? pulumiShim(o.sandboxSpec, o.runDir, pulumiRoot) : pulumiRoot;
    const copyConfig = await templateConfig(deps, o);
    const stack = await selectStack(o, root);
    await copyConfig?.(stack, log);
    return await (phase.kind === 'run' ? RUN[o.input.operation](stack, common) : runApprovalPhase(o.input.operation, phase, stack, common, log));
  } catch (err) {
    // Recovered like a lost worker, not reported as a user's cancel.
    if (isWorkerShutdown(cancelled)) throw ApplicationFailure.nonRetryable('Pulumi was stopped: its worker shut down before the operation finished.', 'PulumiInterrupted');
    if (cancelled.aborted) throw Context.current().cancellationSignal.reason ?? err;
    if (liveness.stoppedBecause) throw ApplicationFailure.nonRetryable(`Pulumi was stopped: ${liveness.stoppedBecause}.`, 'PulumiInterrupted');
    if (err instanceof ApplicationFailure) throw err;
    const why = lastError(err);
    if (phase.kind === 'apply' && /violates plan|not allowed by the plan|expected resource operations/.test(why)) {
      throw ApplicationFailure.nonRetryable(`The approved plan no longer applies (the stack changed since its preview); nothing beyond it was applied: ${why}`, 'PlanNoLongerApplies');
    }
    throw new Error(`${command} failed: ${why}`);
  } finally {
    liveness.dispose();
    clearInterval(beat);
    clearTimeout(forceStop);
    signal.removeEventListener('abort', onAbort);
    cancelled.removeEventListener('abort', onCancel);
  }
}

export type RunOptions = UpOptions & PreviewOptions & RefreshOptions & DestroyOptions;
export const fromResult = (r: UpResult | RefreshResult | DestroyResult): PulumiSummary => ({
  result: r.summary.result,
  resourceChanges: r.summary.resourceChanges ?? {},
});
export const fromPreview = (r: PreviewResult): PulumiSummary => ({ result: 'succeeded', resourceChanges: r.changeSummary });

/** The Automation API call behind each operation. */
const RUN: Record<Operation, (stack: Stack, opts: RunOptions) => Promise<PulumiSummary>> = {
  update: async (stack, opts) => fromResult(await stack.up(opts)),
  preview: async (stack, opts) => fromPreview(await stack.preview(opts)),
  refresh: async (stack, opts) => fromResult(await stack.refresh(opts)),
  destroy: async (stack, opts) => fromResult(await stack.destroy(opts)),
  'detect-drift': async (stack, opts) => fromPreview(await stack.previewRefresh(opts)),
  'remediate-drift': async (stack, opts) => fromResult(await stack.up({ ...opts, refresh: true })),
};

async function selectStack(o: OpenDeployment, pulumiRoot: string): Promise<Stack> {
  const { PATH: _path, ...envVars } = o.env;
  // The file backend needs its directory to exist.
  if (envVars.PULUMI_BACKEND_URL.startsWith('file://')) mkdirSync(envVars.PULUMI_BACKEND_URL.slice('file://'.length), { recursive: true });
  mkdirSync(envVars.PULUMI_HOME, { recursive: true });
  // Recovery, which runs outside the sandbox, may have rewritten the state.
  if (o.sandboxSpec) for (const d of [envVars.PULUMI_HOME, o.stateDir]) if (d) giveToSandbox(d);
  const pulumiCommand = await PulumiCommand.get({ root: pulumiRoot, skipVersionCheck: true });
  const ws = await LocalWorkspace.create({ workDir: o.programDir, pulumiCommand, pulumiHome: envVars.PULUMI_HOME, envVars });
  return Stack.createOrSelect(o.input.stack, ws);
}

/** The CLI's own `error:` line, which says what went wrong without the whole output. */
function lastError(err: unknown): string {
  const stderr = (err as { commandResult?: { stderr?: string } }).commandResult?.stderr ?? (err as Error).message ?? String(err);
  const errors = stderr.split('\n').filter((l) => /^\s*error:/.test(l));
  return (errors.at(-1) ?? stderr.split('\n').find((l) => l.trim()) ?? 'unknown error').trim();
}
