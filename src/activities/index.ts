import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '@temporalio/activity';
import type { DeploymentInput, DeploymentStatus } from '../shared/deployment';
import { advance, skipQueued } from '../deployments/transitions';
import { recordRemediation, recordRetry } from '../deployments/create';
import { openDeployment, sandboxRunDir, workspaceDeps, workspaceDir, type ActivityDeps, type WorkspaceDeps } from './context';
import { runStep } from './step';
import { getSource } from './source';
import { installDependencies } from './install';
import { preRunCommand } from './pre-run';
import { pulumiOperation } from './pulumi';
import { recoverStack } from './recover';
import { recordOutcome } from './drift';
import type { StackRef } from '../shared/names';
import { reportDeployment, type ReportOutcome } from './report';
import { createScheduleActivities } from './schedules';
import { createReviewActivities } from './review';
import { createRemoveStack } from './remove-stack';
import { approvalSharedActivities, approvalWorkspaceActivities } from './approval';
import { createHookActivities } from './events';

export type { ActivityDeps, WorkspaceDeps } from './context';

/** Activities any worker can run: they touch only the store. */
export function createSharedActivities(deps: ActivityDeps) {
  return {
    /** Names the task queue of the worker that will hold this deployment's files. */
    async claimWorkspace(): Promise<string> {
      return deps.sessionQueue;
    },

    /** Moves the deployment forward; false when it could not (it already ended), which tells the workflow not to run it. */
    setDeploymentStatus: (id: string, status: DeploymentStatus, message?: string): Promise<boolean> => advance(deps.store, id, status, message),

    /** A queued deployment that will never run (skipped, cancelled, superseded or expired). */
    async skipDeployment(input: DeploymentInput, message: string): Promise<void> {
      if (!(await skipQueued(deps.store, input.id, message))) return; // it had already ended
      // It never reaches the deployment workflow, which reports the others; a failed report must not repeat the skip.
      await reportDeployment(deps, input, { status: 'skipped', message }).catch((err: unknown) =>
        log.warn('could not report the skipped deployment to its git host', { error: String(err) }),
      );
    },

    async isQueuePaused(stack: StackRef): Promise<boolean> {
      const { stackPaused, organizationPaused } = await deps.store.pauseState(stack);
      return stackPaused || organizationPaused;
    },

    recoverStack: (input: DeploymentInput, why: string) => recoverStack(deps, input, why),

    /** A new deployment repeating an interrupted one, when retries are enabled; never a retry of a retry. */
    async retryDeployment(input: DeploymentInput): Promise<DeploymentInput | undefined> {
      if (!deps.retryInterrupted || input.retryOf) return undefined;
      return recordRetry(deps.store, input);
    },

    /** Records the remediate-drift deployment a detection asks for; the workflow queues it. */
    queueRemediation: (detection: DeploymentInput): Promise<DeploymentInput> => recordRemediation(deps.store, detection),

    /** Tells the commit or pull request behind a git-triggered deployment how it went (nothing otherwise). */
    reportDeployment: (input: DeploymentInput, outcome: ReportOutcome) => reportDeployment(deps, input, outcome),

    ...createScheduleActivities(deps),
    ...createRemoveStack(deps),
    ...approvalSharedActivities(deps),
    ...createHookActivities(deps),
  };
}

/** Activities of the review stack workflow (any worker: the store, the stack queue, the stack's backend). */
export function createReviewStackActivities(deps: ActivityDeps) {
  return { ...createReviewActivities(deps), ...createRemoveStack(deps) };
}
export type ReviewStackActivities = ReturnType<typeof createReviewStackActivities>;

/** Activities that run on the worker holding the deployment's workspace (its session queue). */
export function createWorkspaceActivities(given: ActivityDeps | WorkspaceDeps) {
  const deps = workspaceDeps(given);
  void emptyTrash(deps); // what a previous run of this worker had not finished deleting
  const { killGraceMs } = deps;
  return {
    getSource: async (input: DeploymentInput, step: number) => {
      const o = await openDeployment(deps, input);
      return runStep(deps, o, step, (log) => getSource(o, log, deps));
    },

    installDependencies: async (input: DeploymentInput, step: number) => {
      const o = await openDeployment(deps, input);
      return runStep(deps, o, step, (log) => installDependencies(o, log, deps));
    },

    preRunCommand: async (input: DeploymentInput, step: number, index: number) => {
      const o = await openDeployment(deps, input);
      return runStep(deps, o, step, (log) => preRunCommand(o, index, log, killGraceMs));
    },

    pulumiOperation: async (input: DeploymentInput, step: number) => {
      const o = await openDeployment(deps, input);
      return runStep(deps, o, step, async (log) => {
        const summary = await pulumiOperation(o, log, deps);
        const driftDetected = await recordOutcome(deps, o, summary.resourceChanges, log);
        return driftDetected === null ? summary : { ...summary, driftDetected };
      });
    },

    /**
     * The stack's next deployment waits for this activity, and deleting a program's node_modules takes
     * seconds: move the workspace aside (instant) and delete it in the background.
     */
    async cleanupWorkspace(id: string): Promise<void> {
      const trash = join(deps.dataDir, 'work', `${TRASH_PREFIX}${id}`);
      await rm(sandboxRunDir(deps, id), { recursive: true, force: true });
      try {
        await rename(workspaceDir(deps, id), trash);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      void rm(trash, { recursive: true, force: true }).catch(() => undefined);
    },

    ...approvalWorkspaceActivities(deps),
  };
}

export type SharedActivities = ReturnType<typeof createSharedActivities>;
export type WorkspaceActivities = ReturnType<typeof createWorkspaceActivities>;

const TRASH_PREFIX = '.trash-';

async function emptyTrash(deps: Pick<ActivityDeps, 'dataDir'>): Promise<void> {
  const work = join(deps.dataDir, 'work');
  const entries = await readdir(work).catch(() => [] as string[]);
  for (const e of entries.filter((n) => n.startsWith(TRASH_PREFIX))) await rm(join(work, e), { recursive: true, force: true }).catch(() => undefined);
}
