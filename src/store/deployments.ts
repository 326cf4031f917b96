import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { Database } from './schema';
import { isUniqueViolation, stackColumns, type Clock } from './sql';
import { stackKey, type StackRef } from '../shared/names';
import type { DeploymentSettings } from '../shared/settings';
import { TERMINAL, type DeploymentStatus, type Operation, type StepStatus } from '../shared/deployment';
import type { ResourceChanges } from '../shared/drift';
import type { ApprovalRequest, Decision } from '../shared/approval';
import type { DeploymentTrigger } from '../shared/deployment';
import { normalizeRepository, type VcsProvider } from '../vcs/repository';

export interface StepRecord {
  name: string;
  status: StepStatus;
  started: string | null;
  lastUpdated: string | null;
}

export interface DeploymentRecord extends StackRef {
  id: string;
  version: number;
  operation: Operation;
  status: DeploymentStatus;
  settings: DeploymentSettings;
  inheritSettings: boolean;
  initiator: string;
  requestedBy: string;
  message: string | null;
  created: string;
  modified: string;
  started: string | null;
  steps: StepRecord[];
  /** The Pulumi operation's change summary, once it ran. */
  resourceChanges: ResourceChanges | null;
  /** Drift operations only: whether the refresh found the resources changed. */
  driftDetected: boolean | null;
  /** The remediate-drift deployment this detection queued. */
  driftRemediationId: string | null;
  /** requireApproval: what the deployment asked approval for, once its preview ran. */
  approvalRequest?: ApprovalRequest | null;
  /** requireApproval: every decision, in order. */
  approvals?: Decision[];
  /** The git event that started it (recorded since the trigger columns exist). */
  trigger?: DeploymentTrigger;
}

export interface NewDeployment {
  operation: Operation;
  settings: DeploymentSettings;
  inheritSettings: boolean;
  initiator: string;
  requestedBy: string;
  steps: string[];
  /** The git event that started it. */
  trigger?: DeploymentTrigger;
  /** Client-chosen key that makes the request idempotent, with a hash of what was asked. */
  idempotency?: IdempotencyKey;
}

export interface IdempotencyKey {
  key: string;
  requestHash: string;
}

export interface ListOptions {
  page: number;
  pageSize: number;
  asc: boolean;
  /** Only deployments in one of these statuses. */
  status?: DeploymentStatus[];
}

type DeploymentRow = Database['deployments'];

/** A deployment request's idempotency key is already recorded for the stack. */
export class IdempotencyKeyTaken extends Error {}

/** Deployment records and their steps. */
export class DeploymentStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: Clock,
  ) {}

  private ts(): string {
    return this.now().toISOString();
  }

  /** Records a deployment with the stack's next version number. */
  async createDeployment(ref: StackRef, d: NewDeployment): Promise<DeploymentRecord> {
    // Two requests may read the same highest version; the unique key turns the loser away, and it tries again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.insertDeployment(ref, d);
      } catch (err) {
        if (attempt >= 20 || !isUniqueViolation(err)) throw err;
      }
    }
  }

  private async insertDeployment(ref: StackRef, d: NewDeployment): Promise<DeploymentRecord> {
    const now = this.ts();
    const id = randomUUID();
    await this.db.transaction().execute(async (tx) => {
      if (d.idempotency) {
        const taken = await tx
          .selectFrom('idempotency_keys')
          .select('deployment_id')
          .where((eb) => eb.and(stackColumns(ref)))
          .where('key', '=', d.idempotency.key)
          .executeTakeFirst();
        if (taken) throw new IdempotencyKeyTaken(d.idempotency.key);
      }
      const { max } = await tx
        .selectFrom('deployments')
        .select((eb) => eb.fn.max('version').as('max'))
        .where((eb) => eb.and(stackColumns(ref)))
        .executeTakeFirstOrThrow();
      await tx
        .insertInto('deployments')
        .values({
          id,
          ...stackColumns(ref),
          version: Number(max ?? 0) + 1,
          operation: d.operation,
          status: 'not-started',
          settings: JSON.stringify(d.settings),
          inherit_settings: d.inheritSettings ? 1 : 0,
          initiator: d.initiator,
          requested_by: d.requestedBy,
          message: null,
          created: now,
          modified: now,
          started: null,
          ...(d.trigger && { git_trigger: JSON.stringify(d.trigger), pull_request_key: pullRequestKeyOf(d.trigger) ?? null }),
        })
        .execute();
      if (d.steps.length > 0) {
        await tx
          .insertInto('deployment_steps')
          .values(d.steps.map((name, idx) => ({ deployment_id: id, idx, name, status: 'not-started', started: null, last_updated: null })))
          .execute();
      }
      // In the same transaction: a concurrent request with the same key fails here (and tries again).
      if (d.idempotency) {
        await tx
          .insertInto('idempotency_keys')
          .values({ ...stackColumns(ref), key: d.idempotency.key, request_hash: d.idempotency.requestHash, deployment_id: id, created: now })
          .execute();
      }
    });
    return (await this.getDeploymentById(id))!;
  }

  /** The deployment a stack's idempotency key was first used for, with the hash of that request. */
  async findByIdempotencyKey(ref: StackRef, key: string): Promise<{ requestHash: string; deployment: DeploymentRecord } | undefined> {
    const row = await this.db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'deployment_id'])
      .where((eb) => eb.and(stackColumns(ref)))
      .where('key', '=', key)
      .executeTakeFirst();
    const deployment = row && (await this.getDeploymentById(row.deployment_id));
    return deployment && { requestHash: row.request_hash, deployment };
  }

  /** Frees a key whose deployment was never queued, so that a retry with it asks again. */
  async releaseIdempotencyKey(deploymentId: string): Promise<void> {
    await this.db.deleteFrom('idempotency_keys').where('deployment_id', '=', deploymentId).execute();
  }

  async getDeploymentById(id: string): Promise<DeploymentRecord | undefined> {
    const row = await this.db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
    return row && this.hydrate([row]).then((r) => r[0]);
  }

  async getDeployment(ref: StackRef, id: string): Promise<DeploymentRecord | undefined> {
    const d = await this.getDeploymentById(id);
    return d && d.org === ref.org && d.project === ref.project && d.stack === ref.stack ? d : undefined;
  }

  /** A page of one stack's deployments (by version), or of an organization's (newest first by creation). */
  async listDeployments(scope: StackRef | { org: string }, o: ListOptions, latest?: number): Promise<{ deployments: DeploymentRecord[]; total: number }> {
    let base = this.db.selectFrom('deployments').where('org', '=', scope.org);
    if ('stack' in scope) base = base.where('project', '=', scope.project).where('stack', '=', scope.stack);
    if ('stack' in scope && !o.status?.length) return this.pageOfStack(scope, o, latest);
    if (o.status?.length) base = base.where('status', 'in', o.status);
    const { total } = await base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
    const dir = o.asc ? 'asc' : 'desc';
    const ordered = 'stack' in scope ? base.orderBy('version', dir) : base.orderBy('created', dir).orderBy('project', dir).orderBy('stack', dir).orderBy('version', dir);
    const rows = await ordered
      .selectAll()
      .limit(o.pageSize)
      .offset((o.page - 1) * o.pageSize)
      .execute();
    return { deployments: await this.hydrate(rows), total: Number(total) };
  }

  /**
   * A stack's versions run from 1 to its latest without a gap (each is the highest + 1, in the
   * transaction that inserts it, and deployments are never deleted): the total is the latest
   * version and a page is a range of versions, so neither counting nor OFFSET walks the index.
   */
  private async pageOfStack(ref: StackRef, o: ListOptions, latest?: number): Promise<{ deployments: DeploymentRecord[]; total: number }> {
    const total = latest ?? (await this.latestVersion(ref));
    const skip = (o.page - 1) * o.pageSize;
    const query = this.db.selectFrom('deployments').selectAll().where((eb) => eb.and(stackColumns(ref)));
    const rows = await (o.asc ? query.where('version', '>', skip).orderBy('version', 'asc') : query.where('version', '<=', total - skip).orderBy('version', 'desc'))
      .limit(o.pageSize)
      .execute();
    return { deployments: await this.hydrate(rows), total };
  }

  async getDeploymentByVersion(ref: StackRef, version: number): Promise<DeploymentRecord | undefined> {
    const row = await this.db
      .selectFrom('deployments')
      .selectAll()
      .where((eb) => eb.and(stackColumns(ref)))
      .where('version', '=', version)
      .executeTakeFirst();
    return row && this.hydrate([row]).then((r) => r[0]);
  }

  /** The highest version of each of these stacks, keyed by stackKey. */
  async latestVersions(refs: StackRef[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (refs.length === 0) return out;
    const rows = await this.db
      .selectFrom('deployments')
      .select(['org', 'project', 'stack', (eb) => eb.fn.max('version').as('max')])
      .where((eb) => eb.or(refs.map((r) => eb.and(stackColumns(r)))))
      .groupBy(['org', 'project', 'stack'])
      .execute();
    for (const r of rows) out.set(stackKey(r), Number(r.max));
    return out;
  }

  async latestVersion(ref: StackRef): Promise<number> {
    const { max } = await this.db
      .selectFrom('deployments')
      .select((eb) => eb.fn.max('version').as('max'))
      .where((eb) => eb.and(stackColumns(ref)))
      .executeTakeFirstOrThrow();
    return Number(max ?? 0);
  }

  /**
   * Moves a deployment to `status` when it is in one of `from` (default: any), and never out of a
   * final status: the guard is in the UPDATE itself, so a late or concurrent write cannot undo an
   * outcome. Returns whether the status changed.
   */
  async setStatus(id: string, status: DeploymentStatus, message?: string, from?: readonly DeploymentStatus[]): Promise<boolean> {
    return this.updateStatus(this.db, id, status, message, from);
  }

  private async updateStatus(db: Kysely<Database>, id: string, status: DeploymentStatus, message: string | undefined, from?: readonly DeploymentStatus[]): Promise<boolean> {
    if (from?.length === 0) return false;
    const now = this.ts();
    let update = db
      .updateTable('deployments')
      .set((eb) => ({
        status,
        modified: now,
        ...(message !== undefined ? { message } : {}),
        ...(status === 'running' ? { started: eb.fn.coalesce('started', eb.val(now)) } : {}),
      }))
      .where('id', '=', id)
      .where('status', 'not in', TERMINAL);
    if (from) update = update.where('status', 'in', from);
    const r = await update.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Records a step's status; a finished deployment's steps stay as it closed them. */
  async setStep(id: string, idx: number, status: StepStatus): Promise<void> {
    const now = this.ts();
    await this.db
      .updateTable('deployment_steps')
      .set((eb) => ({
        status,
        last_updated: now,
        ...(status === 'running' ? { started: eb.fn.coalesce('started', eb.val(now)) } : {}),
      }))
      .where('deployment_id', '=', id)
      .where('idx', '=', idx)
      .where(({ exists, selectFrom }) =>
        exists(selectFrom('deployments').select('id').where('id', '=', id).where('status', 'not in', TERMINAL)),
      )
      .execute();
  }

  /**
   * Records a deployment's end (when it is in one of `from`, and not already final); steps still
   * open end with it (failed) or are skipped. Returns whether this call ended it.
   */
  async finishDeployment(id: string, status: DeploymentStatus, message?: string, from?: readonly DeploymentStatus[]): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      if (!(await this.updateStatus(tx, id, status, message, from))) return false;
      await this.closeSteps(tx, id, status === 'succeeded' ? 'succeeded' : 'failed');
      return true;
    });
  }

  /** Marks every step still running (or waiting) when a deployment ends early. */
  async closeOpenSteps(id: string, status: StepStatus): Promise<void> {
    await this.closeSteps(this.db, id, status);
  }

  private async closeSteps(db: Kysely<Database>, id: string, status: StepStatus): Promise<void> {
    await db
      .updateTable('deployment_steps')
      .set({ status, last_updated: this.ts() })
      .where('deployment_id', '=', id)
      .where('status', '=', 'running')
      .execute();
    await db
      .updateTable('deployment_steps')
      .set({ status: 'skipped' })
      .where('deployment_id', '=', id)
      .where('status', '=', 'not-started')
      .execute();
  }

  /** Deployments in one of these statuses, oldest first (what the reconciler checks). */
  async listByStatus(statuses: readonly DeploymentStatus[], limit: number): Promise<DeploymentRecord[]> {
    if (statuses.length === 0) return [];
    const rows = await this.db.selectFrom('deployments').selectAll().where('status', 'in', statuses).orderBy('created').limit(limit).execute();
    return this.hydrate(rows);
  }

  /** Adds a step after the planned ones (e.g. recovery) unless it exists, and returns its index. */
  async ensureStep(id: string, name: string): Promise<number> {
    const existing = await this.db
      .selectFrom('deployment_steps')
      .select('idx')
      .where('deployment_id', '=', id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (existing) return existing.idx;
    const { max } = await this.db
      .selectFrom('deployment_steps')
      .select((eb) => eb.fn.max('idx').as('max'))
      .where('deployment_id', '=', id)
      .executeTakeFirstOrThrow();
    const idx = max === null || max === undefined ? 0 : Number(max) + 1;
    await this.db.insertInto('deployment_steps').values({ deployment_id: id, idx, name, status: 'not-started', started: null, last_updated: null }).execute();
    return idx;
  }

  async countByStatus(org: string): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('deployments')
      .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
      .where('org', '=', org)
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Stacks of an organization with deployments waiting to start. */
  async stacksWithQueued(org: string): Promise<StackRef[]> {
    return this.db
      .selectFrom('deployments')
      .select(['org', 'project', 'stack'])
      .distinct()
      .where('org', '=', org)
      .where('status', '=', 'not-started')
      .execute();
  }

  /** Records what a deployment's Pulumi operation changed (and, for drift operations, whether that is drift). */
  async recordChanges(id: string, changes: ResourceChanges, driftDetected: boolean | null): Promise<void> {
    await this.db
      .updateTable('deployments')
      .set({ resource_changes: JSON.stringify(changes), drift_detected: driftDetected === null ? null : Number(driftDetected), modified: this.ts() })
      .where('id', '=', id)
      .execute();
  }

  async linkDriftRemediation(detectionId: string, remediationId: string): Promise<void> {
    await this.db.updateTable('deployments').set({ drift_remediation_id: remediationId }).where('id', '=', detectionId).execute();
  }

  /** Deployments whose git trigger names this pull request and that are in one of these statuses. */
  async byPullRequest(pr: PullRequestRef, statuses: readonly DeploymentStatus[]): Promise<DeploymentRecord[]> {
    const rows = await this.db
      .selectFrom('deployments')
      .selectAll()
      .where('pull_request_key', '=', pullRequestKey(pr))
      .where('status', 'in', [...statuses])
      .orderBy('created')
      .execute();
    return this.hydrate(rows);
  }

  /** Rows as records, with their steps. */
  async hydrate(rows: DeploymentRow[]): Promise<DeploymentRecord[]> {
    if (rows.length === 0) return [];
    const steps = await this.db
      .selectFrom('deployment_steps')
      .selectAll()
      .where(
        'deployment_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('idx')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      org: r.org,
      project: r.project,
      stack: r.stack,
      version: r.version,
      operation: r.operation as Operation,
      status: r.status as DeploymentStatus,
      settings: JSON.parse(r.settings),
      inheritSettings: r.inherit_settings === 1,
      initiator: r.initiator,
      requestedBy: r.requested_by,
      message: r.message,
      created: r.created,
      modified: r.modified,
      started: r.started,
      resourceChanges: r.resource_changes === null ? null : JSON.parse(r.resource_changes),
      driftDetected: r.drift_detected === null ? null : r.drift_detected === 1,
      driftRemediationId: r.drift_remediation_id,
      approvalRequest: r.approval_request ? JSON.parse(r.approval_request) : null,
      approvals: r.approvals ? JSON.parse(r.approvals) : [],
      ...(r.git_trigger && { trigger: JSON.parse(r.git_trigger) as DeploymentTrigger }),
      steps: steps
        .filter((s) => s.deployment_id === r.id)
        .map((s) => ({ name: s.name, status: s.status as StepStatus, started: s.started, lastUpdated: s.last_updated })),
    }));
  }
}

/** A pull (merge) request of a repository on a git host. */
export interface PullRequestRef {
  provider: VcsProvider;
  repository: string;
  number: number;
}

/** How a pull request is looked up: `<provider>:<normalized repository>#<number>`. */
export const pullRequestKey = (pr: PullRequestRef): string =>
  `${pr.provider}:${normalizeRepository(pr.provider, pr.repository)}#${pr.number}`;

const pullRequestKeyOf = (t: DeploymentTrigger): string | undefined =>
  t.pullRequest === undefined ? undefined : pullRequestKey({ provider: t.provider, repository: t.repository, number: t.pullRequest });
