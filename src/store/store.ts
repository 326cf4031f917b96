import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { Database } from './schema';
import { stackKey, type StackRef } from '../shared/names';
import type { DeploymentSettings } from '../shared/settings';
import type { DeploymentStatus, Operation, StepStatus } from '../shared/deployment';

export interface StoredSettings {
  settings: DeploymentSettings;
  version: number;
  created: string;
  modified: string;
}

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
}

export interface NewDeployment {
  operation: Operation;
  settings: DeploymentSettings;
  inheritSettings: boolean;
  initiator: string;
  requestedBy: string;
  steps: string[];
}

export interface ListOptions {
  page: number;
  pageSize: number;
  asc: boolean;
  /** Only deployments in one of these statuses. */
  status?: DeploymentStatus[];
}

export interface LogLine {
  step: number;
  seq: number;
  ts: string;
  line: string;
}

type DeploymentRow = Database['deployments'];
const where = (s: StackRef) => ({ org: s.org, project: s.project, stack: s.stack });

/** Stackwright's durable records: what must outlive Temporal's retention. */
export class Store {
  constructor(
    readonly db: Kysely<Database>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private ts(): string {
    return this.now().toISOString();
  }

  async getSettings(ref: StackRef): Promise<StoredSettings | undefined> {
    const row = await this.db.selectFrom('stack_settings').selectAll().where((eb) => eb.and(where(ref))).executeTakeFirst();
    return row && { settings: JSON.parse(row.settings), version: row.version, created: row.created, modified: row.modified };
  }

  async saveSettings(ref: StackRef, settings: DeploymentSettings): Promise<StoredSettings> {
    const now = this.ts();
    return this.db.transaction().execute(async (tx) => {
      const cur = await tx.selectFrom('stack_settings').select(['version', 'created']).where((eb) => eb.and(where(ref))).executeTakeFirst();
      const json = JSON.stringify(settings);
      if (cur) {
        await tx
          .updateTable('stack_settings')
          .set({ settings: json, version: cur.version + 1, modified: now })
          .where((eb) => eb.and(where(ref)))
          .execute();
        return { settings, version: cur.version + 1, created: cur.created, modified: now };
      }
      await tx.insertInto('stack_settings').values({ ...where(ref), settings: json, version: 1, created: now, modified: now }).execute();
      return { settings, version: 1, created: now, modified: now };
    });
  }

  async deleteSettings(ref: StackRef): Promise<boolean> {
    const r = await this.db.deleteFrom('stack_settings').where((eb) => eb.and(where(ref))).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
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
      const { max } = await tx
        .selectFrom('deployments')
        .select((eb) => eb.fn.max('version').as('max'))
        .where((eb) => eb.and(where(ref)))
        .executeTakeFirstOrThrow();
      await tx
        .insertInto('deployments')
        .values({
          id,
          ...where(ref),
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
        })
        .execute();
      if (d.steps.length > 0) {
        await tx
          .insertInto('deployment_steps')
          .values(d.steps.map((name, idx) => ({ deployment_id: id, idx, name, status: 'not-started', started: null, last_updated: null })))
          .execute();
      }
    });
    return (await this.getDeploymentById(id))!;
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
  async listDeployments(scope: StackRef | { org: string }, o: ListOptions): Promise<{ deployments: DeploymentRecord[]; total: number }> {
    let base = this.db.selectFrom('deployments').where('org', '=', scope.org);
    if ('stack' in scope) base = base.where('project', '=', scope.project).where('stack', '=', scope.stack);
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

  async getDeploymentByVersion(ref: StackRef, version: number): Promise<DeploymentRecord | undefined> {
    const row = await this.db
      .selectFrom('deployments')
      .selectAll()
      .where((eb) => eb.and(where(ref)))
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
      .where((eb) => eb.or(refs.map((r) => eb.and(where(r)))))
      .groupBy(['org', 'project', 'stack'])
      .execute();
    for (const r of rows) out.set(stackKey(r), Number(r.max));
    return out;
  }

  async latestVersion(ref: StackRef): Promise<number> {
    const { max } = await this.db
      .selectFrom('deployments')
      .select((eb) => eb.fn.max('version').as('max'))
      .where((eb) => eb.and(where(ref)))
      .executeTakeFirstOrThrow();
    return Number(max ?? 0);
  }

  async setStatus(id: string, status: DeploymentStatus, message?: string): Promise<void> {
    const now = this.ts();
    await this.db
      .updateTable('deployments')
      .set((eb) => ({
        status,
        modified: now,
        ...(message !== undefined ? { message } : {}),
        ...(status === 'running' ? { started: eb.fn.coalesce('started', eb.val(now)) } : {}),
      }))
      .where('id', '=', id)
      .execute();
  }

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
      .execute();
  }

  /** Records a deployment's end; steps still open end with it (failed) or are skipped. */
  async finishDeployment(id: string, status: DeploymentStatus, message?: string): Promise<void> {
    await this.setStatus(id, status, message);
    await this.closeOpenSteps(id, status === 'succeeded' ? 'succeeded' : 'failed');
  }

  /** Marks every step still running (or waiting) when a deployment ends early. */
  async closeOpenSteps(id: string, status: StepStatus): Promise<void> {
    await this.db
      .updateTable('deployment_steps')
      .set({ status, last_updated: this.ts() })
      .where('deployment_id', '=', id)
      .where('status', '=', 'running')
      .execute();
    await this.db
      .updateTable('deployment_steps')
      .set({ status: 'skipped' })
      .where('deployment_id', '=', id)
      .where('status', '=', 'not-started')
      .execute();
  }

  async appendLogs(id: string, step: number, lines: { seq: number; ts: string; line: string }[]): Promise<void> {
    if (lines.length === 0) return;
    await this.db
      .insertInto('deployment_logs')
      .values(lines.map((l) => ({ deployment_id: id, step, ...l })))
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async countLogs(id: string, step: number): Promise<number> {
    const { max } = await this.db
      .selectFrom('deployment_logs')
      .select((eb) => eb.fn.max('seq').as('max'))
      .where('deployment_id', '=', id)
      .where('step', '=', step)
      .executeTakeFirstOrThrow();
    return max === null || max === undefined ? 0 : Number(max) + 1;
  }

  async readLogs(id: string, step: number, offset: number, count: number): Promise<LogLine[]> {
    return this.db
      .selectFrom('deployment_logs')
      .select(['step', 'seq', 'ts', 'line'])
      .where('deployment_id', '=', id)
      .where('step', '=', step)
      .where('seq', '>=', offset)
      .orderBy('seq')
      .limit(count)
      .execute();
  }

  private async hydrate(rows: DeploymentRow[]): Promise<DeploymentRecord[]> {
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
      steps: steps
        .filter((s) => s.deployment_id === r.id)
        .map((s) => ({ name: s.name, status: s.status as StepStatus, started: s.started, lastUpdated: s.last_updated })),
    }));
  }
}

/** SQLite's and PostgreSQL's ways of saying a unique key was violated. */
function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === '23505';
}
