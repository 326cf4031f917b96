import type { Kysely } from 'kysely';
import type { Database } from './schema';

const QUEUED = ['not-started', 'accepted'];

/**
 * The figures behind /metrics, read from the store when Prometheus scrapes: the API and the workers
 * may be separate processes (or machines), and only the store sees what all of them did.
 */
export class MetricsStore {
  constructor(private readonly db: Kysely<Database>) {}

  async deploymentCounts(): Promise<{ operation: string; status: string; count: number }[]> {
    const rows = await this.db
      .selectFrom('deployments')
      .select(['operation', 'status', (eb) => eb.fn.countAll<number | string>().as('n')])
      .groupBy(['operation', 'status'])
      .execute();
    return rows.map((r) => ({ operation: r.operation, status: r.status, count: Number(r.n) }));
  }

  /** Seconds each finished step took, with its name and outcome. */
  async stepDurations(): Promise<{ step: string; status: string; seconds: number }[]> {
    const rows = await this.db
      .selectFrom('deployment_steps')
      .select(['name', 'status', 'started', 'last_updated'])
      .where('status', 'in', ['succeeded', 'failed'])
      .where('started', 'is not', null)
      .where('last_updated', 'is not', null)
      .execute();
    return rows.map((r) => ({ step: r.name, status: r.status, seconds: seconds(r.started!, r.last_updated!) }));
  }

  /** How long each started deployment waited in its stack's queue. */
  async queueWaits(): Promise<{ operation: string; seconds: number }[]> {
    const rows = await this.db.selectFrom('deployments').select(['operation', 'created', 'started']).where('started', 'is not', null).execute();
    return rows.map((r) => ({ operation: r.operation, seconds: seconds(r.created, r.started!) }));
  }

  /** Per stack with queued deployments: how many wait, and since when the oldest does. */
  async queues(): Promise<{ org: string; project: string; stack: string; depth: number; oldest: string }[]> {
    const rows = await this.db
      .selectFrom('deployments')
      .select(['org', 'project', 'stack', (eb) => eb.fn.countAll<number | string>().as('n'), (eb) => eb.fn.min('created').as('oldest')])
      .where('status', 'in', QUEUED)
      .groupBy(['org', 'project', 'stack'])
      .execute();
    return rows.map((r) => ({ org: r.org, project: r.project, stack: r.stack, depth: Number(r.n), oldest: String(r.oldest) }));
  }

  async hookDeliveries(): Promise<{ kind: string; event: string; outcome: string; count: number }[]> {
    const rows = await this.db
      .selectFrom('hook_deliveries')
      .select(['kind', 'event', 'attempt', 'response_code', (eb) => eb.fn.countAll<number | string>().as('n')])
      .groupBy(['kind', 'event', 'attempt', 'response_code'])
      .execute();
    const out = new Map<string, { kind: string; event: string; outcome: string; count: number }>();
    for (const r of rows) {
      const outcome = r.attempt === 0 ? 'pending' : r.response_code >= 200 && r.response_code < 300 ? 'delivered' : 'failed';
      const k = `${r.kind}\0${r.event}\0${outcome}`;
      const e = out.get(k) ?? { kind: r.kind, event: r.event, outcome, count: 0 };
      e.count += Number(r.n);
      out.set(k, e);
    }
    return [...out.values()];
  }

  async logLines(): Promise<number> {
    const r = await this.db.selectFrom('deployment_logs').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirst();
    return Number(r?.n ?? 0);
  }
}

const seconds = (from: string, to: string): number => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

