import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema';
import { stackColumns } from './sql';
import type { StackRef } from '../shared/names';
import type { ScheduleKind } from '../shared/schedules';

/** A stored schedule. `request` is a CreateDeploymentRequest with its secrets sealed. */
export interface ScheduleRecord extends StackRef {
  id: string;
  kind: ScheduleKind;
  scheduleCron: string | null;
  /** ISO 8601, UTC. */
  scheduleOnce: string | null;
  request: ScheduledRequest;
  paused: boolean;
  /** Grows with each update; each firing records the version it ran. */
  version: number;
  created: string;
  modified: string;
}

/** What a firing asks for: an operation, whether to inherit the stack's settings, and sealed overrides. */
export interface ScheduledRequest {
  operation: string;
  inheritSettings?: boolean;
  [field: string]: unknown;
}

/** One firing: the deployment it queued, or why it queued none ('skipped' on overlap, 'failed'). */
export interface ScheduleFiring {
  id: string;
  scheduleId: string;
  executed: string;
  version: number;
  result: string;
  deploymentId: string | null;
  message: string | null;
}

type Row = Database['schedules'];
const fromRow = (r: Row): ScheduleRecord => ({
  org: r.org,
  project: r.project,
  stack: r.stack,
  id: r.id,
  kind: r.kind as ScheduleKind,
  scheduleCron: r.schedule_cron,
  scheduleOnce: r.schedule_once,
  request: JSON.parse(r.request) as ScheduledRequest,
  paused: r.paused === 1,
  version: r.version,
  created: r.created,
  modified: r.modified,
});

export type ScheduleSpec = Pick<ScheduleRecord, 'kind' | 'scheduleCron' | 'scheduleOnce' | 'request'>;

/** Schedules and their firings. */
export class ScheduleStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(ref: StackRef, s: ScheduleSpec, now = new Date()): Promise<ScheduleRecord> {
    const t = now.toISOString();
    const row: Row = {
      id: randomUUID(),
      ...stackColumns(ref),
      kind: s.kind,
      schedule_cron: s.scheduleCron,
      schedule_once: s.scheduleOnce,
      request: JSON.stringify(s.request),
      paused: 0,
      version: 1,
      created: t,
      modified: t,
    };
    await this.db.insertInto('schedules').values(row).execute();
    return fromRow(row);
  }

  async get(ref: StackRef, id: string): Promise<ScheduleRecord | undefined> {
    const r = await this.db.selectFrom('schedules').selectAll().where('id', '=', id).where((eb) => eb.and(stackColumns(ref))).executeTakeFirst();
    return r && fromRow(r);
  }

  async getById(id: string): Promise<ScheduleRecord | undefined> {
    const r = await this.db.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst();
    return r && fromRow(r);
  }

  async list(ref: StackRef): Promise<ScheduleRecord[]> {
    const rows = await this.db.selectFrom('schedules').selectAll().where((eb) => eb.and(stackColumns(ref))).orderBy('created').orderBy('id').execute();
    return rows.map(fromRow);
  }

  async count(ref: StackRef): Promise<number> {
    const r = await this.db.selectFrom('schedules').select((eb) => eb.fn.countAll<number>().as('n')).where((eb) => eb.and(stackColumns(ref))).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Replaces what the schedule does (a full update); the version grows. */
  async update(id: string, s: Omit<ScheduleSpec, 'kind'>, now = new Date()): Promise<void> {
    await this.db
      .updateTable('schedules')
      .set((eb) => ({
        schedule_cron: s.scheduleCron,
        schedule_once: s.scheduleOnce,
        request: JSON.stringify(s.request),
        version: eb('version', '+', 1),
        modified: now.toISOString(),
      }))
      .where('id', '=', id)
      .execute();
  }

  async setPaused(id: string, paused: boolean, now = new Date()): Promise<void> {
    await this.db.updateTable('schedules').set({ paused: paused ? 1 : 0, modified: now.toISOString() }).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('schedule_history').where('schedule_id', '=', id).execute();
      await tx.deleteFrom('schedules').where('id', '=', id).execute();
    });
  }

  /** Records a firing; a retried activity finds the firing it already recorded (same id). */
  async recordFiring(f: Omit<ScheduleFiring, 'result'> & { result: string }): Promise<void> {
    const exists = await this.db.selectFrom('schedule_history').select('id').where('id', '=', f.id).executeTakeFirst();
    if (exists) return;
    await this.db
      .insertInto('schedule_history')
      .values({ id: f.id, schedule_id: f.scheduleId, executed: f.executed, version: f.version, result: f.result, deployment_id: f.deploymentId, message: f.message })
      .execute();
  }

  async getFiring(id: string): Promise<ScheduleFiring | undefined> {
    return (await this.firings('h.id', id))[0];
  }

  /** Firings, newest first; a firing that queued a deployment has that deployment's status as its result. */
  history(scheduleId: string): Promise<ScheduleFiring[]> {
    return this.firings('h.schedule_id', scheduleId);
  }

  async lastExecuted(scheduleIds: string[]): Promise<Map<string, string>> {
    if (scheduleIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('schedule_history')
      .select(['schedule_id', (eb) => eb.fn.max('executed').as('last')])
      .where('schedule_id', 'in', scheduleIds)
      .groupBy('schedule_id')
      .execute();
    return new Map(rows.map((r) => [r.schedule_id, String(r.last)]));
  }

  private async firings(column: 'h.id' | 'h.schedule_id', value: string): Promise<ScheduleFiring[]> {
    const rows = await this.db
      .selectFrom('schedule_history as h')
      .leftJoin('deployments as d', 'd.id', 'h.deployment_id')
      .select(['h.id', 'h.schedule_id', 'h.executed', 'h.version', 'h.result', 'h.deployment_id', 'h.message', 'd.status'])
      .where(column, '=', value)
      .orderBy('h.executed', 'desc')
      .orderBy('h.id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      scheduleId: r.schedule_id,
      executed: r.executed,
      version: r.version,
      result: r.status ?? r.result,
      deploymentId: r.deployment_id,
      message: r.message,
    }));
  }

  /** Everything of a stack's schedules, when the stack itself goes. Returns the ids removed. */
  async deleteStack(ref: StackRef): Promise<string[]> {
    const ids = (await this.list(ref)).map((s) => s.id);
    for (const id of ids) await this.delete(id);
    return ids;
  }
}
