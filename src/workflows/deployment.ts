import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { SharedActivities, WorkspaceActivities } from '../activities';
import type { DeploymentInput, DeploymentResult, DeploymentStatus } from '../shared/deployment';
import { StatusAttr } from '../shared/search-attributes';

const shared = proxyActivities<SharedActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '10 seconds' },
});

// Reporting to the git host is best effort: a few tries, then the deployment goes on without it.
const reporting = proxyActivities<SharedActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, maximumInterval: '10 seconds' },
});

/** Steps run on one worker's session queue, because they share the cloned files. */
function onWorkspace(taskQueue: string) {
  const base = {
    taskQueue,
    // If that worker is gone, fail instead of waiting forever.
    scheduleToStartTimeout: '5 minutes',
    heartbeatTimeout: '1 minute',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1 },
  } as const;
  return {
    quick: proxyActivities<WorkspaceActivities>({ ...base, startToCloseTimeout: '30 minutes' }),
    pulumi: proxyActivities<WorkspaceActivities>({ ...base, startToCloseTimeout: '6 hours' }),
    cleanup: proxyActivities<WorkspaceActivities>({ ...base, startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 3 } }),
  };
}

/** One deployment: get the source, install, pre-run commands, then the Pulumi operation. */
export async function deployment(input: DeploymentInput): Promise<DeploymentResult> {
  // Only git-triggered deployments report, so the histories of the others stay as they were.
  const report = async (outcome: Parameters<SharedActivities['reportDeployment']>[1]) => {
    if (!input.trigger) return;
    await CancellationScope.nonCancellable(() => reporting.reportDeployment(input, outcome)).catch((err: unknown) =>
      log.warn('could not report the deployment to its git host', { error: String(err) }),
    );
  };
  const finish = async (status: DeploymentStatus, message?: string, resourceChanges?: Record<string, number>): Promise<DeploymentResult> => {
    upsertSearchAttributes([{ key: StatusAttr, value: status }]);
    // Recording the outcome must happen even when the workflow is being cancelled.
    await CancellationScope.nonCancellable(() => shared.setDeploymentStatus(input.id, status, message));
    await report({ status, message, resourceChanges });
    return { status, message };
  };

  upsertSearchAttributes([{ key: StatusAttr, value: 'running' }]);
  await shared.setDeploymentStatus(input.id, 'running');
  await report({ status: 'running' });
  const ws = onWorkspace(await shared.claimWorkspace());
  const options = input.settings.operationContext?.options;
  const preRun = input.settings.operationContext?.preRunCommands ?? [];
  try {
    let step = 0;
    await ws.quick.getSource(input, step++);
    if (!options?.skipInstallDependencies) await ws.quick.installDependencies(input, step++);
    for (let i = 0; i < preRun.length; i++) await ws.quick.preRunCommand(input, step++, i);
    const summary = await ws.pulumi.pulumiOperation(input, step);
    return await finish('succeeded', undefined, summary.resourceChanges as Record<string, number>);
  } catch (err) {
    if (isCancellation(err)) return await finish('failed', 'The deployment was cancelled.');
    return await finish('failed', failureMessage(err));
  } finally {
    await CancellationScope.nonCancellable(() => ws.cleanup.cleanupWorkspace(input.id)).catch(() => undefined);
  }
}

function failureMessage(err: unknown): string {
  // Activity failures wrap the step's own ApplicationFailure.
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof ApplicationFailure) return cause.message;
  return err instanceof Error ? err.message : String(err);
}
