import type { Kysely, Selectable } from 'kysely';
import type { Database } from './schema';
import type { DependentEdge } from '../shared/chain';
import type { DependentCondition } from '../shared/hooks';

/** A hook's scope: an organization, or one of its stacks. */
export interface HookScope {
  org: string;
  project?: string;
  stack?: string;
}

export interface HookRecord {
  org: string;
  project?: string;
  stack?: string;
  name: string;
  displayName: string;
  payloadUrl: string;
  /** Sealed. */
  secret?: string;
  active: boolean;
  format: string;
  filters: string[];
  groups: string[];
}

export interface DeliveryRecord {
  id: string;
  hook: string;
  messageId: string;
  event: string;
  kind: string;
  payload: string;
  timestamp: number;
  duration: number;
  attempt: number;
  requestUrl: string;
  requestHeaders: string;
  responseCode: number;
  responseHeaders: string;
  responseBody: string;
}

/** What an attempt found out; the delivery row keeps the latest. */
export type DeliveryOutcome = Pick<DeliveryRecord, 'timestamp' | 'duration' | 'attempt' | 'requestUrl' | 'requestHeaders' | 'responseCode' | 'responseHeaders' | 'responseBody'>;

const key = (s: HookScope) => ({ org: s.org, project: s.project ?? '', stack: s.stack ?? '' });

const toHook = (r: Selectable<Database['hooks']>): HookRecord => ({
  org: r.org,
  ...(r.project ? { project: r.project, stack: r.stack } : {}),
  name: r.name,
  displayName: r.display_name,
  payloadUrl: r.payload_url,
  ...(r.secret ? { secret: r.secret } : {}),
  active: r.active === 1,
  format: r.format,
  filters: JSON.parse(r.filters) as string[],
  groups: JSON.parse(r.groups) as string[],
});

const toDelivery = (r: Selectable<Database['hook_deliveries']>): DeliveryRecord => ({
  id: r.id,
  hook: r.hook,
  messageId: r.message_id,
  event: r.event,
  kind: r.kind,
  payload: r.payload,
  timestamp: r.timestamp,
  duration: r.duration,
  attempt: r.attempt,
  requestUrl: r.request_url,
  requestHeaders: r.request_headers,
  responseCode: r.response_code,
  responseHeaders: r.response_headers,
  responseBody: r.response_body,
});

/** Outgoing webhooks, their deliveries, and the dependents of stacks. */
export class HookStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** False when a hook of that name exists in the scope. */
  async createHook(h: HookRecord): Promise<boolean> {
    const exists = await this.getHook(h, h.name);
    if (exists) return false;
    await this.db
      .insertInto('hooks')
      .values({ ...key(h), ...columns(h), name: h.name, created: this.now().toISOString() })
      .execute();
    return true;
  }

  async updateHook(h: HookRecord): Promise<void> {
    await this.db.updateTable('hooks').set(columns(h)).where((eb) => eb.and({ ...key(h), name: h.name })).execute();
  }

  async getHook(scope: HookScope, name: string): Promise<HookRecord | undefined> {
    const r = await this.db.selectFrom('hooks').selectAll().where((eb) => eb.and({ ...key(scope), name })).executeTakeFirst();
    return r && toHook(r);
  }

  async listHooks(scope: HookScope): Promise<HookRecord[]> {
    const rows = await this.db.selectFrom('hooks').selectAll().where((eb) => eb.and(key(scope))).orderBy('created').orderBy('name').execute();
    return rows.map(toHook);
  }

  /** The organization's hooks and the stack's own: every hook an event of the stack may reach. */
  async hooksFor(org: string, project: string, stack: string): Promise<HookRecord[]> {
    const rows = await this.db
      .selectFrom('hooks')
      .selectAll()
      .where('org', '=', org)
      .where((eb) => eb.or([eb.and({ project: '', stack: '' }), eb.and({ project, stack })]))
      .execute();
    return rows.map(toHook);
  }

  async deleteHook(scope: HookScope, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('hooks').where((eb) => eb.and({ ...key(scope), name })).executeTakeFirst();
    await this.db.deleteFrom('hook_deliveries').where((eb) => eb.and({ ...key(scope), hook: name })).execute();
    return Number(r.numDeletedRows) > 0;
  }

  /** Records a delivery before its first attempt; false when it was already recorded (a retried publish). */
  async addDelivery(scope: HookScope, d: Pick<DeliveryRecord, 'id' | 'hook' | 'messageId' | 'event' | 'kind' | 'payload' | 'requestUrl'>): Promise<boolean> {
    if (await this.getDelivery(d.id)) return false;
    const last = await this.db.selectFrom('hook_deliveries').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
    await this.db
      .insertInto('hook_deliveries')
      .values({
        ...key(scope),
        id: d.id,
        hook: d.hook,
        message_id: d.messageId,
        event: d.event,
        kind: d.kind,
        payload: d.payload,
        timestamp: Math.floor(this.now().getTime() / 1000),
        duration: 0,
        attempt: 0,
        request_url: d.requestUrl,
        request_headers: '',
        response_code: 0,
        response_headers: '',
        response_body: '',
        seq: Number(last?.seq ?? 0) + 1,
      })
      .execute();
    return true;
  }

  async recordAttempt(id: string, o: DeliveryOutcome): Promise<void> {
    await this.db
      .updateTable('hook_deliveries')
      .set({
        timestamp: o.timestamp,
        duration: o.duration,
        attempt: o.attempt,
        request_url: o.requestUrl,
        request_headers: o.requestHeaders,
        response_code: o.responseCode,
        response_headers: o.responseHeaders,
        response_body: o.responseBody,
      })
      .where('id', '=', id)
      .execute();
  }

  async getDelivery(id: string): Promise<(DeliveryRecord & { scope: HookScope }) | undefined> {
    const r = await this.db.selectFrom('hook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return r && { ...toDelivery(r), scope: { org: r.org, ...(r.project ? { project: r.project, stack: r.stack } : {}) } };
  }

  /** A hook's deliveries, newest first. */
  async listDeliveries(scope: HookScope, hook: string, limit = 100): Promise<DeliveryRecord[]> {
    const rows = await this.db
      .selectFrom('hook_deliveries')
      .selectAll()
      .where((eb) => eb.and({ ...key(scope), hook }))
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toDelivery);
  }

  /** Every dependent edge of the organization (`project/stack` names). */
  async dependentEdges(org: string): Promise<DependentEdge[]> {
    const rows = await this.db.selectFrom('stack_dependents').selectAll().where('org', '=', org).orderBy('created').execute();
    return rows.map((r) => ({ from: `${r.project}/${r.stack}`, to: `${r.dependent_project}/${r.dependent_stack}`, when: r.condition as DependentCondition }));
  }

  /** Adds or changes an edge. */
  async putDependent(org: string, from: { project: string; stack: string }, to: { project: string; stack: string }, when: DependentCondition): Promise<void> {
    const where = { org, project: from.project, stack: from.stack, dependent_project: to.project, dependent_stack: to.stack };
    const r = await this.db.updateTable('stack_dependents').set({ condition: when }).where((eb) => eb.and(where)).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) await this.db.insertInto('stack_dependents').values({ ...where, condition: when, created: this.now().toISOString() }).execute();
  }

  async deleteDependent(org: string, from: { project: string; stack: string }, to: { project: string; stack: string }): Promise<boolean> {
    const r = await this.db
      .deleteFrom('stack_dependents')
      .where((eb) => eb.and({ org, project: from.project, stack: from.stack, dependent_project: to.project, dependent_stack: to.stack }))
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

function columns(h: HookRecord) {
  return {
    display_name: h.displayName,
    payload_url: h.payloadUrl,
    secret: h.secret ?? null,
    active: h.active ? 1 : 0,
    format: h.format,
    filters: JSON.stringify(h.filters),
    groups: JSON.stringify(h.groups),
  };
}
