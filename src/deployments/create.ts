import { planOf, planOfInput, stepNames, type DeploymentInput, type DeploymentTrigger, type Operation } from '../shared/deployment';
import type { StackRef } from '../shared/names';
import type { DeploymentSettings } from '../shared/settings';
import { IdempotencyKeyTaken, type DeploymentRecord, type IdempotencyKey } from '../store/deployments';
import type { Store } from '../store/store';
import { IdempotencyConflict } from './idempotency';

export interface NewDeploymentRequest {
  operation: Operation;
  /** Complete, sealed settings the deployment runs with. */
  settings: DeploymentSettings;
  inheritSettings: boolean;
  initiator: string;
  requestedBy: string;
  trigger?: DeploymentTrigger;
  /** Queued or running deployments with the same key are superseded by this one. */
  supersedeKey?: string;
}

/**
 * Records a requested deployment. With an idempotency key, a request repeating an earlier one gets
 * that deployment back (`replayed`); a different request with the same key is an IdempotencyConflict.
 */
export async function recordDeployment(
  store: Store,
  ref: StackRef,
  req: NewDeploymentRequest,
  idempotency?: IdempotencyKey,
): Promise<{ record: DeploymentRecord; replayed: boolean }> {
  const d = { ...req, steps: stepNames(req.settings, req.operation), idempotency };
  for (let attempt = 1; ; attempt++) {
    if (idempotency) {
      const earlier = await store.findByIdempotencyKey(ref, idempotency.key);
      if (earlier && earlier.requestHash !== idempotency.requestHash) throw new IdempotencyConflict(idempotency.key, earlier.deployment.id);
      if (earlier) return { record: earlier.deployment, replayed: true };
    }
    try {
      return { record: await store.createDeployment(ref, d), replayed: false };
    } catch (err) {
      // A concurrent request with the same key won: read its deployment on the next turn.
      if (!(err instanceof IdempotencyKeyTaken) || attempt >= 3) throw err;
    }
  }
}

/** What the deployment workflow receives for a recorded deployment. */
export function deploymentInput(ref: StackRef, record: { id: string; version: number }, req: NewDeploymentRequest, requestedAt: number): DeploymentInput {
  return {
    org: ref.org,
    project: ref.project,
    stack: ref.stack,
    id: record.id,
    version: record.version,
    operation: req.operation,
    plan: planOf(req.settings),
    requestedAt,
    ...(req.trigger && { trigger: req.trigger }),
    ...(req.supersedeKey && { supersedeKey: req.supersedeKey }),
  };
}

/** The one retry of an interrupted deployment: a new deployment repeating it (the queue runs it next). */
export async function recordRetry(store: Store, input: DeploymentInput): Promise<DeploymentInput> {
  const { record } = await recordDeployment(store, input, {
    operation: input.operation,
    settings: await sealedSettings(store, input),
    inheritSettings: false,
    initiator: 'retry',
    requestedBy: `retry of version ${input.version}`,
  });
  const { settings: _legacy, ...routing } = input;
  return { ...routing, plan: planOfInput(input), id: record.id, version: record.version, retryOf: input.id, requestedAt: Date.now() };
}

/**
 * remediateIfDriftDetected: the remediate-drift deployment a detection that found drift asks for,
 * with the detection's own sealed settings so it runs the same program the same way. The
 * detection links to it (its drift run shows both).
 */
export async function recordRemediation(store: Store, detection: DeploymentInput): Promise<DeploymentInput> {
  const earlier = await store.getDeploymentById(detection.id);
  // A retried activity finds the remediation it already recorded.
  const linked = earlier?.driftRemediationId ? await store.getDeploymentById(earlier.driftRemediationId) : undefined;
  const req: NewDeploymentRequest = {
    operation: 'remediate-drift',
    settings: earlier?.settings ?? detection.settings ?? {},
    inheritSettings: earlier?.inheritSettings ?? true,
    initiator: earlier?.initiator ?? 'api',
    requestedBy: earlier?.requestedBy ?? 'api-token',
  };
  const record = linked ?? (await recordDeployment(store, detection, req)).record;
  if (!linked) await store.linkDriftRemediation(detection.id, record.id);
  return deploymentInput(detection, record, req, Date.now());
}

/** The sealed settings a deployment runs with: its record holds them (older inputs carried them too). */
export async function sealedSettings(store: Store, input: Pick<DeploymentInput, 'id' | 'settings'>): Promise<DeploymentSettings> {
  if (input.settings) return input.settings;
  const record = await store.getDeploymentById(input.id);
  if (!record) throw new Error(`deployment ${input.id} has no record`);
  return record.settings;
}
