import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ApiDeps } from './deps';
import { MetricsStore } from '../store/metrics';
import { cacheLookups } from '../store/caches';

const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200];
const API_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** `Pre-run command 3` → `Pre-run command`: one series per kind of step, not per index. */
const stepKind = (name: string) => name.replace(/\s+\d+$/, '');

/**
 * Prometheus metrics. Deployments, steps, queues, hook deliveries and log lines are read from the
 * store at each scrape (collect callbacks), so one API process reports what every worker did; API
 * request durations are measured in this process.
 */
export function createMetrics(deps: Pick<ApiDeps, 'store' | 'metricsToken'>) {
  const registry = new Registry();
  const m = new MetricsStore(deps.store.db);
  const registers = [registry];

  new Gauge({
    name: 'stackwright_deployments',
    help: 'Deployments by operation and status.',
    labelNames: ['operation', 'status'],
    registers,
    async collect() {
      this.reset();
      for (const r of await m.deploymentCounts()) this.set({ operation: r.operation, status: r.status }, r.count);
    },
  });
  new Gauge({
    name: 'stackwright_deployments_running',
    help: 'Deployments running now (waiting for approval included).',
    registers,
    async collect() {
      const rows = await m.deploymentCounts();
      this.set(rows.filter((r) => r.status === 'running' || r.status === 'waiting-for-approval').reduce((n, r) => n + r.count, 0));
    },
  });
  new Histogram({
    name: 'stackwright_deployment_step_duration_seconds',
    help: 'Duration of finished deployment steps, by step and outcome.',
    labelNames: ['step', 'status'],
    buckets: DURATION_BUCKETS,
    registers,
    async collect() {
      this.reset();
      for (const r of await m.stepDurations()) this.observe({ step: stepKind(r.step), status: r.status }, r.seconds);
    },
  });
  new Histogram({
    name: 'stackwright_deployment_queue_wait_seconds',
    help: 'Time started deployments waited in their stack queue, by operation.',
    labelNames: ['operation'],
    buckets: DURATION_BUCKETS,
    registers,
    async collect() {
      this.reset();
      for (const r of await m.queueWaits()) this.observe({ operation: r.operation }, r.seconds);
    },
  });
  const queues = () => m.queues();
  new Gauge({
    name: 'stackwright_queue_depth',
    help: 'Deployments waiting in a stack queue (not-started, accepted).',
    labelNames: ['org', 'project', 'stack'],
    registers,
    async collect() {
      this.reset();
      for (const q of await queues()) this.set({ org: q.org, project: q.project, stack: q.stack }, q.depth);
    },
  });
  new Gauge({
    name: 'stackwright_queue_oldest_wait_seconds',
    help: 'How long the oldest deployment waiting in a stack queue has waited.',
    labelNames: ['org', 'project', 'stack'],
    registers,
    async collect() {
      this.reset();
      const now = Date.now();
      for (const q of await queues()) this.set({ org: q.org, project: q.project, stack: q.stack }, Math.max(0, (now - Date.parse(q.oldest)) / 1000));
    },
  });
  new Gauge({
    name: 'stackwright_hook_deliveries',
    help: 'Outgoing webhook deliveries by kind, event and outcome (pending, delivered, failed: last attempt).',
    labelNames: ['kind', 'event', 'outcome'],
    registers,
    async collect() {
      this.reset();
      for (const r of await m.hookDeliveries()) this.set({ kind: r.kind, event: r.event, outcome: r.outcome }, r.count);
    },
  });
  new Counter({
    name: 'stackwright_log_lines_total',
    help: 'Deployment log lines written.',
    registers,
    async collect() {
      this.reset();
      this.inc(await m.logLines());
    },
  });
  // Counted by the workers in the store (src/store/caches.ts), so any API process reports them.
  new Gauge({
    name: 'stackwright_dependency_cache_lookups',
    help: 'Dependency cache restores (cacheOptions.enable), by result: hit or miss.',
    labelNames: ['result'],
    registers,
    async collect() {
      this.reset();
      for (const r of await cacheLookups(deps.store.db)) this.set({ result: r.result }, r.count);
    },
  });
  const requests = new Histogram({
    name: 'stackwright_api_request_duration_seconds',
    help: 'API request durations by method, route pattern and status code (this API process).',
    labelNames: ['method', 'route', 'code'],
    buckets: API_BUCKETS,
    registers,
  });

  /** Times every request; the label is the route's pattern, never the raw path. */
  const observe: MiddlewareHandler = async (c, next) => {
    const started = performance.now();
    await next();
    requests.observe({ method: c.req.method, route: routePattern(c), code: String(c.res.status) }, (performance.now() - started) / 1000);
  };

  const routes = new Hono().get('/metrics', async (c) => {
    if (deps.metricsToken && !bearerMatches(c.req.header('authorization'), deps.metricsToken)) {
      return c.json({ code: 401, message: 'the metrics token is missing or wrong (Authorization: Bearer <STACKWRIGHT_METRICS_TOKEN>)' }, 401, {
        'WWW-Authenticate': 'Bearer realm="metrics"',
      });
    }
    return c.body(await registry.metrics(), 200, { 'Content-Type': registry.contentType });
  });

  return { registry, observe, routes };
}

/** The pattern of the handler that answered (`/api/stacks/:org/:project/:stack/deployments/:id`). */
function routePattern(c: Parameters<MiddlewareHandler>[0]): string {
  const routes = matchedRoutes(c);
  const isHandler = (r: (typeof routes)[number] | undefined) => !!r && r.method !== 'ALL';
  const answered = routes[c.req.routeIndex];
  if (isHandler(answered)) return answered.path;
  // A middleware answered (a refused token): the route the request was for, if any matched.
  return routes.find(isHandler)?.path ?? '(unmatched)';
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1].trim()), digest(token));
}
