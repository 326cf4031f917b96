import { Context } from '@temporalio/activity';
import { enqueueDeployment } from '../api/enqueue';
import { describeChanges, hasDrift, isDriftOperation, type ResourceChanges } from '../shared/drift';
import type { ActivityDeps, OpenDeployment } from './context';
import type { LogWriter } from './log-writer';

/**
 * Keeps what the Pulumi operation changed on the deployment. A drift operation also records
 * whether that is drift; a detection that finds some queues its remediation when the settings ask.
 * Finding drift is the detection's result, not its failure: the deployment still succeeds.
 */
export async function recordOutcome(deps: ActivityDeps, o: OpenDeployment, changes: ResourceChanges, log: LogWriter): Promise<void> {
  const { input } = o;
  const drift = isDriftOperation(input.operation) ? hasDrift(changes) : null;
  await deps.store.recordChanges(input.id, changes, drift);
  if (drift === null) return;
  log.line(drift ? `Drift detected: ${describeChanges(changes)}.` : 'No drift detected.');
  if (input.operation === 'detect-drift' && drift && o.settings.operationContext?.options?.remediateIfDriftDetected) {
    await queueRemediation(deps, o, log);
  }
}

async function queueRemediation(deps: ActivityDeps, o: OpenDeployment, log: LogWriter): Promise<void> {
  const { input } = o;
  const detection = await deps.store.getDeploymentById(input.id);
  const activityLog = Context.current().log;
  try {
    const remediation = await enqueueDeployment(
      {
        store: deps.store,
        temporal: Context.current().client,
        taskQueue: deps.taskQueue,
        log: { error: (meta: object, message: string) => activityLog.error(message, meta as Record<string, unknown>) },
      },
      { org: input.org, project: input.project, stack: input.stack },
      {
        operation: 'remediate-drift',
        // The detection's own sealed settings: the remediation runs the same program the same way.
        settings: input.settings,
        inheritSettings: detection?.inheritSettings ?? true,
        initiator: detection?.initiator ?? 'api',
        requestedBy: detection?.requestedBy ?? 'api-token',
      },
    );
    await deps.store.linkDriftRemediation(input.id, remediation.id);
    log.line(`remediateIfDriftDetected: queued remediate-drift deployment ${remediation.version}.`);
  } catch (err) {
    // The detection itself succeeded; say why no remediation follows rather than failing it.
    log.line(`Could not queue the remediation: ${(err as Error).message}`);
  }
}
