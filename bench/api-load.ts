/**
 * The API under load: a SQLite store seeded directly with BENCH_LOAD_DEPLOYMENTS deployments (default
 * 10,000, one stack, each with the Pulumi update it made in the stack's file backend) and
 * BENCH_LOAD_LOG_LINES log lines (default 1,000,000, spread over them), an API
 * process on it, and autocannon at a fixed request rate against the deployments list, one
 * deployment and one deployment's logs. Returns p50/p99 latency per route. BENCH_LOAD_DIR keeps the
 * seeded store in that directory, to be used again by the next run of the same size.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import Sqlite from 'better-sqlite3';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (o: object) => Promise<{ latency: { p50: number; p99: number }; non2xx: number; errors: number; requests: { total: number } }>;
import { freePort } from '../src/dev-server';
import { openDatabase } from '../src/store/db';
import { stackStateDir } from '../src/state/backend-url';

const DEPLOYMENTS = Number(process.env.BENCH_LOAD_DEPLOYMENTS ?? 10_000);
const LOG_LINES = Number(process.env.BENCH_LOAD_LOG_LINES ?? 1_000_000);
const RATE = Number(process.env.BENCH_LOAD_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const WARM_UP_SECONDS = 5;

const STACK = { org: 'bench', project: 'website', stack: 'load' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RouteLatency {
  route: string;
  p50: number;
  p99: number;
  requests: number;
  failures: number;
}

/**
 * With BENCH_LOAD_HISTORY=1 the stack's file backend also holds the 10,000 updates: the first
 * request then reads every history file (seconds), which the figures would otherwise hide.
 */
const WITH_HISTORY = process.env.BENCH_LOAD_HISTORY === '1';

/**
 * Writes the rows as the store would: deployments with their steps, then their log lines; and the
 * Pulumi update each deployment made, as the stack's file backend keeps it (one history file each).
 */
async function seed(dataDir: string, file: string): Promise<void> {
  const history = join(stackStateDir(dataDir, STACK), '.pulumi', 'history', STACK.project, STACK.stack);
  rmSync(history, { recursive: true, force: true });
  mkdirSync(history, { recursive: true });
  await (await openDatabase(file)).destroy(); // creates the schema
  const db = new Sqlite(file);
  db.pragma('journal_mode = WAL');
  const settings = JSON.stringify({ sourceContext: { git: { repoURL: 'https://example.com/acme/website.git', branch: 'refs/heads/main' } }, operationContext: {} });
  const insertD = db.prepare(
    `INSERT INTO deployments (id, org, project, stack, version, operation, status, settings, inherit_settings, initiator, requested_by, message, created, modified, started, resource_changes, drift_detected, drift_remediation_id)
     VALUES (?, 'bench', 'website', 'load', ?, 'update', 'succeeded', ?, 1, 'api', 'bench', NULL, ?, ?, ?, '{"update":1}', NULL, NULL)`,
  );
  const insertS = db.prepare(`INSERT INTO deployment_steps (deployment_id, idx, name, status, started, last_updated) VALUES (?, ?, ?, 'succeeded', ?, ?)`);
  const insertL = db.prepare(`INSERT INTO deployment_logs (deployment_id, step, seq, ts, line) VALUES (?, ?, ?, ?, ?)`);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const perDeployment = Math.ceil(LOG_LINES / DEPLOYMENTS);
  let written = 0;
  db.transaction(() => {
    for (let v = 1; v <= DEPLOYMENTS; v++) {
      const id = randomUUID();
      const at = new Date(t0 + v * 60_000).toISOString();
      insertD.run(id, v, settings, at, at, at);
      const started = (t0 + v * 60_000) / 1000;
      const update = {
        kind: 'update',
        startTime: started,
        endTime: started + 20,
        result: 'succeeded',
        message: '',
        environment: { 'exec.kind': 'auto.local', 'git.head': randomBytes(20).toString('hex'), 'ci.build.id': id, 'ci.build.number': String(v), 'ci.system': 'Stackwright' },
        config: { 'website:greeting': { string: 'hello', secret: false, object: false } },
        resourceChanges: { update: 1, same: 2 },
        resourceCount: 3,
      };
      if (WITH_HISTORY) writeFileSync(join(history, `${STACK.stack}-${BigInt(t0 + v * 60_000) * 1_000_000n}.history.json`), JSON.stringify(update));
      ['Get source', 'Install dependencies', 'Pulumi operation'].forEach((name, i) => insertS.run(id, i, name, at, at));
      for (let i = 0; i < perDeployment && written < LOG_LINES; i++, written++) {
        insertL.run(id, Math.min(2, Math.floor((i * 3) / perDeployment)), i, at, `log line ${i} of deployment ${v}: Updating (load): + pulumi:pulumi:Stack website-load created`);
      }
    }
  })();
  db.close();
}

export async function apiLoad(o: { root: string; temporalAddress: string }): Promise<RouteLatency[]> {
  const dataDir = process.env.BENCH_LOAD_DIR ?? join(o.root, 'load');
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'stackwright.db');
  // Names what the store holds once seeding finished.
  const marker = join(dataDir, 'seeded');
  const size = `${DEPLOYMENTS} deployments${WITH_HISTORY ? ' with their updates' : ''}, ${LOG_LINES} log lines`;
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== size) {
    const t0 = Date.now();
    for (const f of [marker, file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    await seed(dataDir, file);
    writeFileSync(marker, size);
    console.log(`  seeded ${DEPLOYMENTS} deployments${WITH_HISTORY ? " (each with its Pulumi update in the stack's history)" : ''} and ${LOG_LINES} log lines in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else console.log(`  ${DEPLOYMENTS} deployments and ${LOG_LINES} log lines seeded earlier in ${dataDir}`);
  const db = new Sqlite(file, { readonly: true });
  const ids = db.prepare(`SELECT id FROM deployments WHERE org = 'bench' AND project = 'website' AND stack = 'load' ORDER BY version`).pluck().all() as string[];
  db.close();
  const token = randomBytes(24).toString('base64url');
  const port = await freePort();
  const api = spawn(process.execPath, [...process.execArgv, join(__dirname, '..', 'src', 'main.ts'), 'api'], {
    env: { ...process.env, TEMPORAL_ADDRESS: o.temporalAddress, STACKWRIGHT_DATA_DIR: dataDir, STACKWRIGHT_PORT: String(port), STACKWRIGHT_TOKEN: token, STACKWRIGHT_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; !(await fetch(`${base}/healthz`).then((r) => r.ok, () => false)); i++) {
      if (i > 600) throw new Error('the API did not come up');
      await sleep(100);
    }
    const stack = '/api/stacks/bench/website/load/deployments';
    const mid = ids[Math.floor(ids.length / 2)];
    const routes = [
      ['GET .../deployments', `${stack}?page=1&pageSize=10`],
      ['GET .../deployments/{id}', `${stack}/${mid}`],
      ['GET .../deployments/{id}/logs', `${stack}/${mid}/logs`],
    ];
    const out: RouteLatency[] = [];
    for (const [route, path] of routes) {
      // Not counted: the API process warms up (JIT, SQLite page cache). The figures are a running
      // server's: a fresh process's first seconds of optimising compilation inflate the first route's tail.
      await autocannon({ url: base + path, headers: { Authorization: `token ${token}` }, connections: 10, overallRate: RATE, duration: WARM_UP_SECONDS });
      const r = await autocannon({ url: base + path, headers: { Authorization: `token ${token}` }, connections: 10, overallRate: RATE, duration: SECONDS });
      out.push({ route, p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, failures: r.non2xx + r.errors });
    }
    return out;
  } finally {
    api.kill('SIGTERM');
    await new Promise((r) => api.once('exit', r));
  }
}
