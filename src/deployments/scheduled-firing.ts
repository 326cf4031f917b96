import type { DeploymentSettings } from '../shared/settings';
import { runnableIssues } from '../shared/settings';
import { TERMINAL, type Operation } from '../shared/deployment';
import type { StackRef } from '../shared/names';
import { PulumiState } from '../state/pulumi-state';
import { ScheduleStore, type ScheduleRecord } from '../store/schedules';
import type { FiringCheck, QueuedFiring } from '../shared/schedule-firing';
import { requestDeployment, type QueueDeps } from './queue';
import { effectiveSettings } from './request-settings';
import { describeIssues } from '../shared/issues';

export interface FiringDeps extends QueueDeps {
  /** The Pulumi backend of a stack: a TTL's destroy runs the commit the stack was last deployed from. */
  stateBackendUrl: (ref: StackRef) => string;
}

export interface Firing {
  scheduleId: string;
  /** Unique per firing (the workflow's): a retried activity queues nothing twice. */
  firingId: string;
  executed: string;
}

/** Whether a firing may queue now: not when the deployment of the previous one is still queued or running. */
export async function checkFiring(deps: Pick<QueueDeps, 'store'>, scheduleId: string): Promise<FiringCheck> {
  const s = await new ScheduleStore(deps.store.db).getById(scheduleId);
  if (!s) return { state: 'gone' };
  if (s.paused) return { state: 'paused' };
  const last = (await new ScheduleStore(deps.store.db).history(scheduleId)).find((f) => f.deploymentId);
  const d = last?.deploymentId ? await deps.store.getDeploymentById(last.deploymentId) : undefined;
  if (d && !TERMINAL.includes(d.status)) return { state: 'busy', version: s.version, deploymentVersion: d.version, status: d.status };
  return { state: 'ready', version: s.version };
}

export async function recordSkipped(deps: Pick<QueueDeps, 'store'>, f: Firing & { version: number; message: string }): Promise<void> {
  await new ScheduleStore(deps.store.db).recordFiring({ id: f.firingId, scheduleId: f.scheduleId, executed: f.executed, version: f.version, result: 'skipped', deploymentId: null, message: f.message });
}

/**
 * Queues the schedule's deployment through its stack's queue (initiator `schedule`), with the stack's
 * settings as they are now when the request inherits them. A firing that cannot run (no settings any
 * more) is recorded as failed; Temporal being unreachable throws, so the activity is retried.
 */
export async function queueFiring(deps: FiringDeps, f: Firing): Promise<QueuedFiring> {
  const schedules = new ScheduleStore(deps.store.db);
  const s = await schedules.getById(f.scheduleId);
  if (!s) return { notQueued: 'gone', message: 'the schedule was deleted' };
  const failed = async (message: string): Promise<QueuedFiring> => {
    await schedules.recordFiring({ id: f.firingId, scheduleId: s.id, executed: f.executed, version: s.version, result: 'failed', deploymentId: null, message });
    return { notQueued: 'failed', message };
  };
  const { operation, inheritSettings = true, ...overrides } = s.request;
  const stored = inheritSettings ? (await deps.store.getSettings(s))?.settings : undefined;
  if (inheritSettings && !stored && Object.keys(overrides).length === 0) return failed('Not run: the stack has no deployment settings.');
  let settings = effectiveSettings(stored, overrides);
  if (s.kind === 'ttl') settings = await lastDeployedSource(deps, s, withoutDeleteAfterDestroy(settings));
  const issues = runnableIssues(settings);
  if (issues.length) return failed(`Not run: ${describeIssues(issues)}.`);
  const r = await requestDeployment(
    deps,
    s,
    { operation: operation as Operation, settings, inheritSettings, initiator: 'schedule', requestedBy: `schedule ${s.id}` },
    { key: `schedule-${f.firingId}`, requestHash: f.firingId },
  );
  await schedules.recordFiring({ id: f.firingId, scheduleId: s.id, executed: f.executed, version: s.version, result: 'not-started', deploymentId: r.id, message: null });
  return { deploymentId: r.id, version: r.version };
}

/** The TTL removes the stack itself, after the destroy succeeded: the destroy deployment only destroys. */
function withoutDeleteAfterDestroy(s: DeploymentSettings): DeploymentSettings {
  const options = s.operationContext?.options;
  if (!options || !('deleteAfterDestroy' in options)) return s;
  const { deleteAfterDestroy: _d, ...rest } = options;
  return { ...s, operationContext: { ...s.operationContext, options: rest } };
}

/**
 * A TTL destroys what was deployed: the commit the stack's last update ran (Pulumi records it as
 * `git.head`) rather than the branch, which may be gone by the deadline.
 */
async function lastDeployedSource(deps: FiringDeps, s: ScheduleRecord, settings: DeploymentSettings): Promise<DeploymentSettings> {
  const git = settings.sourceContext?.git;
  if (!git || git.commit) return settings;
  const history = (await PulumiState.open(deps.stateBackendUrl(s))?.history(s)) ?? [];
  const head = history.filter((u) => u.kind === 'update' && u.environment?.['git.head']).at(-1)?.environment?.['git.head'];
  if (!head || !/^[0-9a-f]{40}$/.test(head)) return settings;
  const { branch: _branch, ...pinned } = git;
  return { ...settings, sourceContext: { ...settings.sourceContext, git: { ...pinned, commit: head } } };
}
