import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as proto from '@temporalio/proto';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { newOutDir, outRoot, readAllLogs, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { STEP } from '../../src/shared/deployment';
import { poolGatewayWorkflowId } from '../../src/activities/pool-gateway-client';

// A runner pool's worker as its own process, with a data directory of its own and no database: it
// reaches only Temporal, and its store work goes through the gateway on the main queue's workers.
const root = resolve(__dirname, '..', '..');
const org = `pool${Date.now().toString(36)}`;
const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;
const SECRET = `pool-secret-${randomUUID()}`;

let sw: Stackwright;
let repo: TestRepo;
let pool: ChildProcess | undefined;
let poolStderr = '';
const poolDir = mkdtempSync(join(tmpdir(), 'stackwright-pool-worker-'));
/** What every role of the installation shares (a pool worker is always given them). */
const shared = {
  STACKWRIGHT_SECRETS_KEY: randomBytes(32).toString('base64'),
  // A file backend both workers reach (the pool worker's steps, the main workers' recovery), inside the sandbox's binds.
  PULUMI_BACKEND_URL: `file://${newOutDir()}`,
  PULUMI_CONFIG_PASSPHRASE: 'pool-test-passphrase',
  STACKWRIGHT_KILL_GRACE_SECONDS: '5',
};

function poolEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...shared,
    STACKWRIGHT_POOL: 'edge',
    STACKWRIGHT_DATA_DIR: poolDir,
    // No database: a pool worker is refused one (see the first test).
    STACKWRIGHT_DATABASE_URL: undefined,
    TEMPORAL_ADDRESS: sw.config.TEMPORAL_ADDRESS,
    STACKWRIGHT_TASK_QUEUE: sw.config.STACKWRIGHT_TASK_QUEUE,
    STACKWRIGHT_ALLOW_LOCAL_REPOS: 'true',
    STACKWRIGHT_SANDBOX_BINDS: `${outRoot()},${join(root, 'node_modules')}:ro`,
    STACKWRIGHT_NPM_CACHE: join(homedir(), '.cache', 'stackwright', 'test-npm-cache'),
    STACKWRIGHT_LOG_LEVEL: 'warn',
    ...extra,
  };
}

beforeAll(async () => {
  sw = await startStackwright(shared);
  repo = createProgramRepo('website');
  pool = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], { cwd: root, env: poolEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  pool.stderr!.on('data', (c: Buffer) => (poolStderr += c.toString()));
});
afterAll(async () => {
  if (pool && pool.exitCode === null) {
    const exited = new Promise((r) => pool!.once('exit', r));
    pool.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (pool.exitCode === null) pool.kill('SIGKILL');
  }
  await sw?.stop();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (pool?.exitCode !== null) throw new Error(`the pool worker exited (${pool?.exitCode}): ${poolStderr}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; pool worker said: ${poolStderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function deploy(stack: string, vars: Record<string, unknown>): Promise<string> {
  const r = await sw.api(`${stackPath(stack)}/deployments`, {
    method: 'POST',
    body: {
      operation: 'update',
      agentPoolID: 'edge',
      sourceContext: { git: { repoURL: repo.url, branch: 'refs/heads/main' } },
      operationContext: { environmentVariables: { OUT_DIR: newOutDir(), API_SECRET: { secret: SECRET }, ...vars } },
    },
  });
  expect(r.status).toBe(202);
  return r.body.id as string;
}

const pulumiStep = (d: { jobs: { steps: { name: string; status: string }[] }[] }) => d.jobs[0].steps.find((s) => s.name === STEP.pulumi)!;

test('a pool worker is refused a database', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
    cwd: root,
    env: poolEnv({ STACKWRIGHT_DATA_DIR: mkdtempSync(join(tmpdir(), 'stackwright-pool-refused-')), STACKWRIGHT_DATABASE_URL: join(sw.config.dataDir, 'stackwright.db') }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('STACKWRIGHT_DATABASE_URL: a runner pool worker (STACKWRIGHT_POOL) never opens the store');
});

test('a deployment runs on the pool worker: steps and live logs through the API, the secret masked', async () => {
  const outDir = newOutDir();
  const id = await deploy('dev', { OUT_DIR: outDir, CREATE_DELAY_MS: '4000' });
  await waitFor('the workspace on the pool worker', () => (existsSync(join(poolDir, 'work', id)) ? true : undefined));
  expect(existsSync(join(sw.config.dataDir, 'work', id))).toBe(false);

  // While Pulumi still runs, its step is running and a line of its log is readable.
  const live = await waitFor('a live line of the Pulumi step', async () => {
    const d = (await sw.api(`${stackPath('dev')}/deployments/${id}`)).body;
    if (d.status !== 'running' || pulumiStep(d).status !== 'running') return undefined;
    const step = d.jobs[0].steps.indexOf(pulumiStep(d));
    const { body } = await sw.api(`${stackPath('dev')}/deployments/${id}/logs?step=${step}&offset=0&count=50`);
    if (!body.lines.length) return undefined;
    const after = (await sw.api(`${stackPath('dev')}/deployments/${id}`)).body;
    return after.status === 'running' ? body.lines : undefined;
  });
  expect(live.length).toBeGreaterThan(0);

  const d = await waitForDeployment(sw, stackPath('dev'), id);
  expect(d.status).toBe('succeeded');
  expect(d.jobs[0].steps.map((s: { status: string }) => s.status).every((s: string) => s === 'succeeded')).toBe(true);
  expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toContain('hello from dev');
  const text = (await readAllLogs(sw, stackPath('dev'), id)).map((l) => l.line ?? '').join('');
  expect(text).toContain('program output: the api secret is [secret]');
  expect(text).toContain('+ 2 created');
  expect(text).not.toContain(SECRET);

  // The gateway's history holds the settings and log lines encrypted only.
  const worker = readFileSync(join(poolDir, 'worker-id'), 'utf8').trim();
  const history = await sw.temporal.workflow.getHandle(poolGatewayWorkflowId('edge', worker)).fetchHistory();
  expect(history.events!.length).toBeGreaterThan(0);
  expect(Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish()).includes(SECRET)).toBe(false);

  // The pool's start was recorded through the gateway; Temporal sees its worker polling.
  const pools = await sw.api(`/api/orgs/${org}/agent-pools`);
  const edge = pools.body.agentPools.find((p: { name: string }) => p.name === 'edge');
  expect(edge).toMatchObject({ id: 'edge', status: 'online' });
  expect(edge.description).toContain('STACKWRIGHT_POOL=edge');
});

test('a running pool deployment can be cancelled', async () => {
  const id = await deploy('slow', { CREATE_DELAY_MS: '120000' });
  await waitFor('the Pulumi step running on the pool worker', async () => {
    const d = (await sw.api(`${stackPath('slow')}/deployments/${id}`)).body;
    return pulumiStep(d).status === 'running' && existsSync(join(poolDir, 'work', id)) ? true : undefined;
  });
  expect((await sw.api(`${stackPath('slow')}/deployments/${id}/cancel`, { method: 'POST' })).status).toBe(200);
  const d = await waitForDeployment(sw, stackPath('slow'), id, 90_000);
  expect(d.status).toBe('failed');
  expect(d.message).toMatch(/^Cancelled by request\./);
  expect(pulumiStep(d).status).toBe('failed');
  const text = (await readAllLogs(sw, stackPath('slow'), id)).map((l) => l.line ?? '').join('');
  expect(text).toContain('Cancelled.');
});

test("the pool worker's data directory holds no database", () => {
  expect(pool!.exitCode).toBeNull();
  expect(existsSync(join(poolDir, 'stackwright.db'))).toBe(false);
  expect(readdirSync(poolDir).filter((f) => /\.(db|sqlite)/.test(f))).toEqual([]);
});
