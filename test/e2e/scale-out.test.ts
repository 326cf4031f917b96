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
import { callApi, newOutDir, outRoot, type ApiInit } from '../helpers/stackwright';

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

function startWorker(kind: 'main' | 'edge'): void {
  workers[kind].child = start(`worker-${kind}`, process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
    ...env,
    STACKWRIGHT_DATA_DIR: workers[kind].dataDir,
    ...(kind === 'edge' ? { STACKWRIGHT_POOL: 'edge' } : {}),
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
  const schema = spawnSync('sh', [join(root, 'temporal', 'setup-schema.sh')], { env: pgEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  if (schema.status !== 0) throw new Error('temporal/setup-schema.sh failed');

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

test('a role given another secrets key refuses to start', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'api'], {
    cwd: root,
    env: { ...env, STACKWRIGHT_SECRETS_KEY: randomBytes(32).toString('base64'), STACKWRIGHT_PORT: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('STACKWRIGHT_SECRETS_KEY cannot open the secrets stored in this database');
  const missing = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], { cwd: root, env: { ...env, PULUMI_BACKEND_URL: undefined, STACKWRIGHT_SECRETS_KEY: undefined }, encoding: 'utf8', timeout: 60_000 });
  expect(missing.status).toBe(1);
  expect(missing.stderr).toMatch(/STACKWRIGHT_SECRETS_KEY: not set[\s\S]*PULUMI_BACKEND_URL: not set/);
});

test('deployments through either API; a pool deployment runs on the pool worker', async () => {
  const plain = await deploy(0, 'plain', {}, { CREATE_DELAY_MS: '3000' });
  expect(await runningOn(plain)).toBe('main');
  expect((await finished(1, 'plain', plain)).status).toBe('succeeded');

  const pooled = await deploy(1, 'pooled', { agentPoolID: 'edge' }, { CREATE_DELAY_MS: '3000' });
  expect(await runningOn(pooled)).toBe('edge');
  expect((await finished(0, 'pooled', pooled)).status).toBe('succeeded');

  const pools = await api(0, `/api/orgs/${org}/agent-pools`);
  expect(pools.status).toBe(200);
  const edge = pools.body.agentPools.find((p: { name: string }) => p.name === 'edge');
  expect(edge).toMatchObject({ id: 'edge', status: 'online', isDefault: false });
  expect(edge.workers.length).toBeGreaterThan(0);

  // A pool nobody serves: the deployment waits, queued, listed as waiting for that pool.
  const nowhere = await deploy(0, 'nowhere', { agentPoolID: 'nowhere' });
  await new Promise((r) => setTimeout(r, 5000));
  expect((await api(1, `${stackPath('nowhere')}/deployments/${nowhere}`)).body.status).toMatch(/not-started|accepted/);
  const listed = (await api(1, `/api/orgs/${org}/agent-pools`)).body.agentPools.find((p: { name: string }) => p.name === 'nowhere');
  expect(listed).toMatchObject({ status: 'offline', workers: [] });
  expect(listed.waitingDeployments.map((d: { id: string }) => d.id)).toEqual([nowhere]);
  expect((await api(0, `${stackPath('nowhere')}/deployments/${nowhere}/cancel`, { method: 'POST' })).status).toBeLessThan(300);
});

test('kill -9 of the pool worker mid-pulumi up: recovered by the other worker; the next deployment runs there', async () => {
  const id = await deploy(0, 'crash', { agentPoolID: 'edge' }, { CREATE_DELAY_MS: '60000' });
  expect(await runningOn(id)).toBe('edge');
  await waitFor('pulumi up to start', async () => {
    const logs = JSON.stringify((await api(0, `${stackPath('crash')}/deployments/${id}/logs?step=0`)).body);
    const d = (await api(0, `${stackPath('crash')}/deployments/${id}`)).body;
    return d.jobs?.[0]?.steps?.some((s: { name: string; status: string }) => s.name === 'Pulumi operation' && s.status === 'running') ? logs : undefined;
  });
  await new Promise((r) => setTimeout(r, 5000));
  workers.edge.child!.kill('SIGKILL');
  const ended = await finished(1, 'crash', id, 300_000);
  expect(ended.status).toBe('failed');
  expect(ended.message ?? JSON.stringify(ended)).toMatch(/recovered/i);

  const next = await deploy(1, 'crash', {}, { CREATE_DELAY_MS: '2000' });
  expect(await runningOn(next)).toBe('main');
  expect((await finished(0, 'crash', next)).status).toBe('succeeded');
  startWorker('edge');
}, 600_000);

test('kill -9 of one API leaves the other serving the same data', async () => {
  const id = await deploy(0, 'plain');
  apis[0].child.kill('SIGKILL');
  expect((await finished(1, 'plain', id)).status).toBe('succeeded');
  const list = await api(1, `${stackPath('plain')}/deployments`);
  expect(list.body.deployments.map((d: { id: string }) => d.id)).toContain(id);
});

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
