/**
 * Scale-out: the real Temporal server (built from temporal/go.mod) on PostgreSQL, Stackwright's
 * store on PostgreSQL, two workers (one in the runner pool "edge") and two API processes, all
 * started with `src/main.ts <role>` as an operator would.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, chmodSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { freePort, waitForPort } from '../../src/dev-server';
import { startPostgres } from '../helpers/postgres';
import { createProgramRepo } from '../helpers/repo';
import { callApi, newOutDir, outRoot, readAllLogs, type ApiInit } from '../helpers/stackwright';
import { waitForLog } from '../helpers/pulumi-state';

const root = join(__dirname, '..', '..');
const CANARY = 'sw-scale-canary-4Rt8Lm2Q';
const children: ChildProcess[] = [];
const org = 'scale';
const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;

/** The Temporal server build; a machine that cannot build it fails here, loudly, never skips. */
function temporalServerDir(): string {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'tools.mjs'), '--temporal-server', '--print-env'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('STACKWRIGHT_TEMPORAL_SERVER_DIR='));
  if (r.status !== 0 || !line) throw new Error('THE SCALE-OUT TEST NEEDS THE REAL TEMPORAL SERVER, AND IT COULD NOT BE BUILT (see above: Go is required; `node scripts/tools.mjs --temporal-server`)');
  return line.slice(line.indexOf('=') + 1).replace(/^'|'$/g, '');
}

function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d}`));
  children.push(child);
  return child;
}

let pgUrl: string;
let env: NodeJS.ProcessEnv;
const apis: { url: string; child: ChildProcess }[] = [];
const workers: Record<'main' | 'edge', { dataDir: string; child?: ChildProcess }> = {
  main: { dataDir: mkdtempSync(join(tmpdir(), 'sw-scale-main-')) },
  edge: { dataDir: mkdtempSync(join(tmpdir(), 'sw-scale-edge-')) },
};
const repo = createProgramRepo('website');
const api = (i: number, path: string, init?: ApiInit) => callApi(apis[i].url, env.STACKWRIGHT_TOKEN!, path, init);
const via = (i: number) => ({ api: (path: string, init?: ApiInit) => api(i, path, init) });

/**
 * What the pool's worker gets on top of the shared settings (a machine in another network): no
 * database, its store work goes through Temporal (src/workflows/pool-gateway.ts).
 */
const EDGE_ENV: NodeJS.ProcessEnv = { STACKWRIGHT_POOL: 'edge', STACKWRIGHT_DATABASE_URL: undefined };

function startWorker(kind: 'main' | 'edge'): void {
  workers[kind].child = start(`worker-${kind}`, process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
    ...env,
    STACKWRIGHT_DATA_DIR: workers[kind].dataDir,
    ...(kind === 'edge' ? EDGE_ENV : {}),
  });
}

/** A role run to its end, without blocking this process (the APIs' keep-alive connections stay served). */
function runRole(role: string, roleEnv: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], { cwd: root, env: roleEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const finished = (i: number, stack: string, id: string, timeoutMs?: number) =>
  waitFor(`deployment ${id}`, async () => {
    const r = await api(i, `${stackPath(stack)}/deployments/${id}`);
    return ['succeeded', 'failed', 'skipped'].includes(r.body?.status) ? r.body : undefined;
  }, timeoutMs);

/** Which worker holds the deployment's workspace while it runs. */
const runningOn = (id: string) =>
  waitFor(`the workspace of ${id}`, async () => (Object.keys(workers) as ('main' | 'edge')[]).find((k) => existsSync(join(workers[k].dataDir, 'work', id))), 120_000);

async function deploy(i: number, stack: string, extra: Record<string, unknown> = {}, vars: Record<string, unknown> = {}): Promise<string> {
  const r = await api(i, `${stackPath(stack)}/deployments`, {
    method: 'POST',
    body: {
      operation: 'update',
      sourceContext: { git: { repoURL: repo.url, branch: 'refs/heads/main' } },
      operationContext: { environmentVariables: { OUT_DIR: newOutDir(), CANARY_SECRET: { secret: CANARY }, ...vars } },
      ...extra,
    },
  });
  expect(r.status).toBe(202);
  return r.body.id as string;
}

beforeAll(async () => {
  const serverDir = temporalServerDir();
  const pg = await startPostgres(await freePort());
  if (!pg) throw new Error('THE SCALE-OUT TEST NEEDS DEBIAN\'S postgresql SERVER BINARIES (/usr/lib/postgresql/*/bin); .ci/run installs them');
  children.push(pg.child);
  pgUrl = pg.url;
  // The port opens before the server accepts queries ("the database system is starting up").
  await waitFor('PostgreSQL', async () => {
    const admin = new PgClient({ connectionString: pgUrl });
    try {
      await admin.connect();
      await admin.query('CREATE DATABASE stackwright');
      return true;
    } finally {
      await admin.end().catch(() => undefined);
    }
  }, 60_000);
  const pgPort = new URL(pgUrl).port;
  const pgEnv = { ...process.env, STACKWRIGHT_TEMPORAL_SERVER_DIR: serverDir, POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: pgPort, POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: '' };
  // temporal-sql-tool logs every statement: shown only when it fails.
  const schema = spawnSync('sh', [join(root, 'temporal', 'setup-schema.sh')], { env: pgEnv, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (schema.status !== 0) throw new Error(`temporal/setup-schema.sh failed:\n${schema.stderr}`);

  // The server's ports are offsets of the frontend's (temporal/config/postgresql.yaml); membership
  // ports (+100…) must fit Temporal's smallint column.
  const temporalPort = 20_000 + Math.floor(Math.random() * 12_000);
  start('temporal', join(serverDir, 'bin', 'temporal-server'), ['--config-file', join(root, 'temporal', 'config', 'postgresql.yaml'), '--allow-no-auth', 'start'], {
    ...pgEnv,
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_DYNAMIC_CONFIG: join(root, 'temporal', 'config', 'dynamicconfig.yaml'),
    TEMPORAL_LOG_LEVEL: 'error',
  });
  await waitForPort('127.0.0.1', temporalPort, 120_000);

  const shared = mkdtempSync(join(tmpdir(), 'sw-scale-state-'));
  chmodSync(shared, 0o777);
  env = {
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    STACKWRIGHT_DATABASE_URL: pgUrl.replace(/\/postgres$/, '/stackwright'),
    STACKWRIGHT_SECRETS_KEY: randomBytes(32).toString('base64'),
    STACKWRIGHT_TOKEN: randomBytes(24).toString('base64url'),
    PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString('hex'),
    PULUMI_BACKEND_URL: `file://${shared}`,
    STACKWRIGHT_TASK_QUEUE: `scale-${randomUUID()}`,
    STACKWRIGHT_ALLOW_LOCAL_REPOS: 'true',
    STACKWRIGHT_SANDBOX_BINDS: `${outRoot()},${shared},${join(root, 'node_modules')}:ro`,
    STACKWRIGHT_NPM_CACHE: join(homedir(), '.cache', 'stackwright', 'test-npm-cache'),
    STACKWRIGHT_LOG_LEVEL: 'warn',
  };
  const setup = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'setup-temporal'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  if (setup.status !== 0) throw new Error('setup-temporal failed');

  startWorker('main');
  startWorker('edge');
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    apis.push({ url: `http://127.0.0.1:${port}`, child: start(`api-${i}`, process.execPath, ['--import', 'tsx', 'src/main.ts', 'api'], { ...env, STACKWRIGHT_PORT: String(port) }) });
  }
  for (const a of apis) await waitFor('the API', async () => ((await fetch(`${a.url}/healthz`)).ok ? true : undefined), 120_000);
  mkdirSync(outRoot(), { recursive: true });
}, 30 * 60_000);

afterAll(async () => {
  for (const c of children.reverse()) if (c.exitCode === null) c.kill('SIGKILL');
});

test('a role given another secrets key refuses to start', async () => {
  const [r, missing] = await Promise.all([
    runRole('api', { ...env, STACKWRIGHT_SECRETS_KEY: randomBytes(32).toString('base64'), STACKWRIGHT_PORT: '1' }),
    runRole('worker', { ...env, PULUMI_BACKEND_URL: undefined, STACKWRIGHT_SECRETS_KEY: undefined }),
  ]);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('STACKWRIGHT_SECRETS_KEY cannot open the secrets stored in this database');
  expect(missing.status).toBe(1);
  expect(missing.stderr).toMatch(/STACKWRIGHT_SECRETS_KEY: not set[\s\S]*PULUMI_BACKEND_URL: not set/);
});

test('deployments through either API; a pool deployment runs on the pool worker', async () => {
  const [plain, pooled, nowhere] = await Promise.all([
    deploy(0, 'plain', {}, { CREATE_DELAY_MS: '3000' }),
    deploy(1, 'pooled', { agentPoolID: 'edge' }, { CREATE_DELAY_MS: '3000' }),
    // A pool nobody serves: the deployment waits, queued, listed as waiting for that pool.
    deploy(0, 'nowhere', { agentPoolID: 'nowhere' }),
  ]);
  expect(await Promise.all([runningOn(plain), runningOn(pooled)])).toEqual(['main', 'edge']);
  expect((await finished(1, 'plain', plain)).status).toBe('succeeded');
  expect((await finished(0, 'pooled', pooled)).status).toBe('succeeded');

  const pools = await api(0, `/api/orgs/${org}/agent-pools`);
  expect(pools.status).toBe(200);
  const edge = pools.body.agentPools.find((p: { name: string }) => p.name === 'edge');
  expect(edge).toMatchObject({ id: 'edge', status: 'online', isDefault: false });
  expect(edge.workers.length).toBeGreaterThan(0);

  expect((await api(1, `${stackPath('nowhere')}/deployments/${nowhere}`)).body.status).toMatch(/not-started|accepted/);
  const listed = (await api(1, `/api/orgs/${org}/agent-pools`)).body.agentPools.find((p: { name: string }) => p.name === 'nowhere');
  expect(listed).toMatchObject({ status: 'offline', workers: [] });
  expect(listed.waitingDeployments.map((d: { id: string }) => d.id)).toEqual([nowhere]);
  expect((await api(0, `${stackPath('nowhere')}/deployments/${nowhere}/cancel`, { method: 'POST' })).status).toBeLessThan(300);
});

test('kill -9 of the pool worker mid-pulumi up: recovered by the other worker', async () => {
  const id = await deploy(0, 'crash', { agentPoolID: 'edge' }, { CREATE_DELAY_MS: '600000' });
  expect(await runningOn(id)).toBe('edge');
  // Pulumi is inside the resource's create: the stack is locked and the create is pending.
  await waitForLog(via(0), stackPath('crash'), id, /hello\s+creating/);
  workers.edge.child!.kill('SIGKILL');
  const ended = await finished(1, 'crash', id, 300_000);
  expect(ended).toMatchObject({ status: 'failed', message: expect.stringContaining('The stack was recovered: its stale lock was removed and 1 pending operation(s) were cleared.') });
  const log = (await readAllLogs(via(1), stackPath('crash'), id)).map((l) => l.line ?? '').join('');
  // The lock names the host (and pid) of the Pulumi that held it.
  expect(log).toMatch(/The lock is held by pid \d+ on \S+ .*, which is no longer running\./);
  expect(log).toMatch(/Pending creating: urn:pulumi:crash::website::.*hello/);
}, 600_000);

test('kill -9 of one API leaves the other serving the same data; the crashed stack\'s next deployment runs on the live worker', async () => {
  apis[0].child.kill('SIGKILL');
  // What was created through the dead API is served by the other.
  const plain = await api(1, `${stackPath('plain')}/deployments`);
  expect(plain.status).toBe(200);
  expect(plain.body.deployments).toHaveLength(1);
  expect((await api(1, `${stackPath('crash')}/deployments`)).body.deployments.map((d: { status: string }) => d.status)).toEqual(['failed']);

  const next = await deploy(1, 'crash', {}, { CREATE_DELAY_MS: '2000' });
  expect(await runningOn(next)).toBe('main');
  expect((await finished(1, 'crash', next)).status).toBe('succeeded');
  expect((await api(1, `${stackPath('crash')}/deployments`)).body.deployments.map((d: { id: string }) => d.id)).toContain(next);
}, 600_000);

test('the canary secret is in no table of either database in clear', async () => {
  const base = pgUrl.replace(/\/postgres$/, '');
  for (const db of ['stackwright', 'temporal', 'temporal_visibility']) {
    const c = new PgClient({ connectionString: `${base}/${db}` });
    await c.connect();
    const cols = (await c.query("SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'")).rows as { table_name: string; column_name: string; data_type: string }[];
    expect(cols.length).toBeGreaterThan(0);
    for (const col of cols) {
      // Temporal keeps payloads as bytea: search their bytes, not their hex text.
      const where = col.data_type === 'bytea' ? `position(convert_to($1, 'UTF8') in "${col.column_name}") > 0` : `"${col.column_name}"::text LIKE '%' || $1 || '%'`;
      const hit = await c.query(`SELECT count(*)::int AS n FROM "${col.table_name}" WHERE ${where}`, [CANARY]);
      expect({ db, table: col.table_name, column: col.column_name, rows: hit.rows[0].n }).toEqual({ db, table: col.table_name, column: col.column_name, rows: 0 });
    }
    await c.end();
  }
});
