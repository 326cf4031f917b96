import type { StackRef } from '../shared/names';
import { mergeSettings } from '../shared/merge';
import { runnableIssues, type DeploymentSettings } from '../shared/settings';
import { requestDeployment, type QueueDeps, type Requested } from './queue';
import { describeIssues } from '../shared/issues';

/** The stack cannot be deployed with its stored settings (none, or not runnable). */
export class CannotDeploy extends Error {}

/**
 * Queues an `update` of a stack with its own stored settings, as Pulumi's deployment webhooks and
 * Stackwright's chains do; `env` adds environment variables (the chain's PULUMI_CI_UPSTREAM_*).
 */
export async function queueStoredUpdate(
  deps: QueueDeps,
  ref: StackRef,
  o: { initiator: string; requestedBy: string; env?: Record<string, string> },
): Promise<Requested> {
  const stored = await deps.store.getSettings(ref);
  if (!stored) throw new CannotDeploy(`${ref.org}/${ref.project}/${ref.stack} has no deployment settings`);
  const settings = o.env
    ? mergeSettings<DeploymentSettings>(stored.settings, { operationContext: { environmentVariables: o.env } } )
    : stored.settings;
  const issues = runnableIssues(settings);
  if (issues.length) throw new CannotDeploy(`${ref.org}/${ref.project}/${ref.stack} cannot run: ${describeIssues(issues)}`);
  return requestDeployment(deps, ref, { operation: 'update', settings, inheritSettings: true, initiator: o.initiator, requestedBy: o.requestedBy });
}
