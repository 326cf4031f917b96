import { rm } from 'node:fs/promises';
import { TERMINAL, type DeploymentInput, type DeploymentStatus } from '../shared/deployment';
import { openDeployment, workspaceDir, type ActivityDeps } from './context';
import { runStep } from './step';
import { getSource } from './source';
import { installDependencies } from './install';
import { preRunCommand } from './pre-run';
import { pulumiOperation } from './pulumi';
import { recordOutcome } from './drift';

export type { ActivityDeps } from './context';

/** Activities any worker can run: they touch only the store. */
export function createSharedActivities(deps: ActivityDeps) {
  return {
    /** Names the task queue of the worker that will hold this deployment's files. */
    async claimWorkspace(): Promise<string> {
      return deps.sessionQueue;
    },

    async setDeploymentStatus(id: string, status: DeploymentStatus, message?: string): Promise<void> {
      if (TERMINAL.includes(status)) await deps.store.finishDeployment(id, status, message);
      else await deps.store.setStatus(id, status, message);
    },
  };
}

/** Activities that run on the worker holding the deployment's workspace (its session queue). */
export function createWorkspaceActivities(deps: ActivityDeps) {
  const { killGraceMs } = deps;
  return {
    getSource: (input: DeploymentInput, step: number) => {
      const o = openDeployment(deps, input);
      return runStep(deps, o, step, (log) => getSource(o, log));
    },

    installDependencies: (input: DeploymentInput, step: number) => {
      const o = openDeployment(deps, input);
      return runStep(deps, o, step, (log) => installDependencies(o, log, killGraceMs));
    },

    preRunCommand: (input: DeploymentInput, step: number, index: number) => {
      const o = openDeployment(deps, input);
      return runStep(deps, o, step, (log) => preRunCommand(o, index, log, killGraceMs));
    },

    pulumiOperation: (input: DeploymentInput, step: number) => {
      const o = openDeployment(deps, input);
      return runStep(deps, o, step, async (log) => {
        const summary = await pulumiOperation(o, log, deps.pulumiRoot, killGraceMs);
        await recordOutcome(deps, o, summary.resourceChanges, log);
        return summary;
      });
    },

    async cleanupWorkspace(id: string): Promise<void> {
      await rm(workspaceDir(deps, id), { recursive: true, force: true });
    },
  };
}

export type SharedActivities = ReturnType<typeof createSharedActivities>;
export type WorkspaceActivities = ReturnType<typeof createWorkspaceActivities>;
