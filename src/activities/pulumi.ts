import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
  type EngineEvent,
  type SummaryEvent,
} from '@pulumi/pulumi/automation';
import type { Operation } from '../shared/deployment';
import type { OpenDeployment, WorkspaceDeps } from './context';
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
export async function pulumiOperation(o: OpenDeployment, log: LogWriter, deps: WorkspaceDeps, phase: ApprovalPhase = { kind: 'run' }): Promise<PulumiSummary> {
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
  const events: EngineEvents = {};
  const common = {
    color: 'never' as const,
    signal,
    onOutput: (out: string) => {
      // Not a sign of progress: the CLI's display prints a ticker while it waits.
      safeHeartbeat();
      log.write(out);
    },
    onEvent: (e: EngineEvent) => {
      liveness.alive();
      if (e.summaryEvent) events.summary = e.summaryEvent;
    },
    onError: (err: string) => log.write(err),
  };
  const command = commandOf(o.input.operation, phase);
  log.line(`$ ${command} --stack ${o.input.stack}`);
  try {
    const root = o.sandboxSpec ? pulumiShim(o.sandboxSpec, o.runDir, pulumiRoot) : pulumiRoot;
    const copyConfig = await templateConfig(deps, o);
    const stack = await selectStack(o, root, events);
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

/** What the engine reported during the operation. */
interface EngineEvents {
  summary?: SummaryEvent;
}

/**
 * The stack, with no CLI round trip that the operation does not need: the Automation API passes
 * `--stack` to every command, so a stack known to exist is not selected first; and the summary
 * comes from the engine's own summary event instead of `stack output` and `stack history` calls
 * after the operation (Stackwright uses neither the outputs nor more of the history).
 */
async function selectStack(o: OpenDeployment, pulumiRoot: string, events: EngineEvents): Promise<Stack> {
  const { PATH: _path, ...envVars } = o.env;
  // The file backend needs its directory to exist.
  if (envVars.PULUMI_BACKEND_URL.startsWith('file://')) mkdirSync(envVars.PULUMI_BACKEND_URL.slice('file://'.length), { recursive: true });
  mkdirSync(envVars.PULUMI_HOME, { recursive: true });
  // Recovery, which runs outside the sandbox, may have rewritten the state.
  if (o.sandboxSpec) for (const d of [envVars.PULUMI_HOME, o.stateDir]) if (d) giveToSandbox(d);
  const pulumiCommand = await pulumiCommandFor(pulumiRoot, o.sandboxSpec ? 'sandbox shim' : pulumiRoot);
  const ws = await LocalWorkspace.create({ workDir: o.programDir, pulumiCommand, pulumiHome: envVars.PULUMI_HOME, envVars });
  const stackFile = o.stateDir && join(o.stateDir, '.pulumi', 'stacks', o.input.project, `${o.input.stack}.json`);
  const known = !!stackFile && (existsSync(stackFile) || existsSync(`${stackFile}.gz`));
  if (known) ws.selectStack = async () => undefined;
  const stack = await (known ? Stack.select(o.input.stack, ws) : Stack.createOrSelect(o.input.stack, ws));
  stack.outputs = async () => ({});
  stack.info = async () => ({ result: 'succeeded', resourceChanges: events.summary?.resourceChanges ?? {} }) as Awaited<ReturnType<Stack['info']>>;
  return stack;
}

const commands = new Map<string, PulumiCommand>();

/**
 * `pulumi version` runs once per worker and kind of root (the sandbox shims all answer alike): a
 * later deployment gets a copy of the first command pointing at its own root.
 */
async function pulumiCommandFor(root: string, kind: string): Promise<PulumiCommand> {
  const known = commands.get(kind);
  if (known) return Object.assign(Object.create(PulumiCommand.prototype) as PulumiCommand, known, { command: resolve(root, 'bin', 'pulumi') });
  const cmd = await PulumiCommand.get({ root, skipVersionCheck: true });
  commands.set(kind, cmd);
  return cmd;
}

/** The CLI's own `error:` line, which says what went wrong without the whole output. */
function lastError(err: unknown): string {
  const stderr = (err as { commandResult?: { stderr?: string } }).commandResult?.stderr ?? (err as Error).message ?? String(err);
  const errors = stderr.split('\n').filter((l) => /^\s*error:/.test(l));
  return (errors.at(-1) ?? stderr.split('\n').find((l) => l.trim()) ?? 'unknown error').trim();
}
