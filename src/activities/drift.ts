import { describeChanges, hasDrift, isDriftOperation, remediationWanted, type ResourceChanges } from '../shared/drift';
import type { OpenDeployment, WorkspaceDeps } from './context';
import type { LogWriter } from './log-writer';

/**
 * Keeps what the Pulumi operation changed on the deployment. A drift operation also records
 * whether that is drift; the workflow queues the remediation a detection asks for (from this
 * result, so that a retried or replayed step never queues it twice). Finding drift is the
 * detection's result, not its failure: the deployment still succeeds. Returns whether it is drift.
 */
export async function recordOutcome(deps: WorkspaceDeps, o: OpenDeployment, changes: ResourceChanges, log: LogWriter): Promise<boolean | null> {
  const { input } = o;
  const drift = isDriftOperation(input.operation) ? hasDrift(changes) : null;
  await deps.workspaceStore.recordChanges(input.id, changes, drift);
  if (drift === null) return null;
  log.line(drift ? `Drift detected: ${describeChanges(changes)}.` : 'No drift detected.');
  if (remediationWanted(input, drift)) log.line('remediateIfDriftDetected: a remediate-drift deployment is queued to run next.');
  return drift;
}
