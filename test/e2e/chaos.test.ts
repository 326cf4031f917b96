import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { startGroup, type Group, type Role } from '../helpers/group';
import { callApi, newOutDir, readAllLogs, waitForDeployment } from '../helpers/stackwright';
import { exportStack, lockFiles, waitForLog } from '../helpers/pulumi-state';
import { followLogs, linesOf, type SseEvent } from '../helpers/sse';

/**
 * Kills parts of a running `npm start` (real processes, real Pulumi, a slow resource) and checks that
 * each interrupted deployment ends by itself, the stack deploys again (no lock, no pending
 * operation), no log line that was already readable is lost, and no deployment runs twice.
 * STACKWRIGHT_CHAOS_TRIALS sets how often each scenario is repeated.
 */
const TRIALS = Number(process.env.STACKWRIGHT_CHAOS_TRIALS ?? 1);
const org = `c${Date.now().toString(36)}`;

let g: Group;
let repo: TestRepo;
const table: { scenario: string; trials: number; recovered: number; seconds: number[] }[] = [];

beforeAll(async () => {
  repo = createProgramRepo('website');
  g = await startGroup({ STACKWRIGHT_KILL_GRACE_SECONDS: '5', STACKWRIGHT_DRAIN_SECONDS: '300' });
}, 240_000);

afterAll(async () => {
  const rows = table.map((r) => {
    const s = [...r.seconds].sort((a, b) => a - b);
    const median = s.length ? s[Math.floor(s.length / 2)].toFixed(1) : '-';
    return `| ${r.scenario} | ${r.trials} | ${r.recovered} | ${median} (max ${s.length ? s.at(-1)!.toFixed(1) : '-'}) |`;
  });
  console.log(['| scenario | trials | recovered | time to recover, s: median (max) |', '|---|---|---|---|', ...rows].join('\n'));
  if (table.some((r) => r.recovered < r.trials)) console.log(`the group's last output:\n${g?.output().slice(-6000)}`);
  await g?.stop();
}, 120_000);

interface Stack {
  name: string;
  path: string;
  outDir: string;
  journal: string;
}

const creating = /hello\s+creating/;
let stacks = 0;
// The program's dependencies are linked from Stackwright's own node_modules (the same @pulumi/pulumi)
// instead of installed: an npm ci per deployment would take most of this file's time.
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;

async function newStack(scenario: string, delayMs: number, preRunCommands: string[] = []): Promise<Stack> {
  const name = `${scenario}-${++stacks}`;
  const outDir = newOutDir();
  const s = { name, path: `/api/stacks/${org}/website/${name}`, outDir, journal: join(outDir, 'journal') };
  const res = await g.api(`${s.path}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoUrl: repo.url, branch: 'main' } },
      operationContext: {
        environmentVariables: { OUT_DIR: outDir, JOURNAL_FILE: s.journal, CREATE_DELAY_MS: String(delayMs) },
        preRunCommands: [linkDependencies, ...preRunCommands],
        options: { skipInstallDependencies: true },
      },
    },
  });
  expect(res.status).toBe(200);
  return s;
}

async function deploy(s: Stack, env: Record<string, string> = {}): Promise<string> {
  const res = await g.api(`${s.path}/deployments`, { method: 'POST', body: { operation: 'update', operationContext: { environmentVariables: env } } });
  expect(res.status).toBe(202);
  return res.body.id;
}

/** The log lines readable now: what a client may already have shown, so must never change. */
async function readSoFar(s: Stack, id: string): Promise<any[]> {
  const lines: any[] = [];
  let token: string | undefined;
  for (;;) {
    const { body } = await g.api(`${s.path}/deployments/${id}/logs${token ? `?continuationToken=${token}` : ''}`);
    lines.push(...body.lines);
    if (body.lines.length === 0 || !body.nextToken) return lines;
    token = body.nextToken;
  }
}

/** A stack whose update is now inside the slow resource's create; with the log read so far. */
async function slowUpdate(scenario: string, delayMs: number): Promise<{ s: Stack; id: string; acknowledged: any[] }> {
  const s = await newStack(scenario, delayMs);
  const id = await deploy(s);
  await waitForLog(g, s.path, id, creating);
  return { s, id, acknowledged: await readSoFar(s, id) };
}

const kill = (role: Role, signal: NodeJS.Signals = 'SIGKILL'): number => {
  const pid = g.pidOf(role);
  if (pid === undefined) throw new Error(`no ${role} is running`);
  process.kill(pid, signal);
  return pid;
};

/**
 * What must hold after every scenario: the deployment ended by itself with its log intact, and the
 * stack takes its next update. Returns the deployment and when it was seen ended.
 */
async function checkRecovered(s: Stack, id: string, acknowledged: any[]): Promise<{ d: any; endedAt: number }> {
  const ended = await checkEnded(s, id, acknowledged);
  await checkNextUpdate(s, await deploy(s, { CREATE_DELAY_MS: '0' }));
  return ended;
}

async function checkEnded(s: Stack, id: string, acknowledged: any[]): Promise<{ d: any; endedAt: number }> {
  const d = await waitForDeployment(g, s.path, id, 300_000);
  const endedAt = Date.now();
  expect(['succeeded', 'failed']).toContain(d.status);
  const full = await readAllLogs(g, s.path, id);
  expect(full.slice(0, acknowledged.length)).toEqual(acknowledged);
  return { d, endedAt };
}

/** The update `id` succeeds: no lock or pending operation was left, and nothing ran twice. */
async function checkNextUpdate(s: Stack, id: string): Promise<void> {
  expect(await waitForDeployment(g, s.path, id, 300_000)).toMatchObject({ status: 'succeeded' });
  expect(lockFiles(g, org)).toEqual([]);
  expect(exportStack(g, org, 'website', s.name).deployment.pending_operations ?? []).toEqual([]);
  expect(readFileSync(join(s.outDir, 'hello.txt'), 'utf8')).toBe(`hello from ${s.name}`);
  expectRanOnce(s);
}

/** Each deployment's resource operation ran at most once (the program notes each in the journal). */
function expectRanOnce(s: Stack): void {
  const ids = existsSync(s.journal) ? readFileSync(s.journal, 'utf8').split('\n').filter(Boolean) : [];
  expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
}

/** Runs a scenario TRIALS times, counting trials that recovered; a trial returns its seconds to recover. */
async function trials(scenario: string, trial: () => Promise<number>): Promise<void> {
  const row = { scenario, trials: 0, recovered: 0, seconds: [] as number[] };
  table.push(row);
  const failures: unknown[] = [];
  for (let i = 0; i < TRIALS; i++) {
    row.trials++;
    try {
      row.seconds.push(await trial());
      row.recovered++;
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length) throw failures[0];
}

const seconds = (from: number, to: number) => (to - from) / 1000;
const perScenario = 360_000 * TRIALS;

test('kill -9 of the worker mid-`pulumi up`: the restarted worker recovers the stack', async () => {
  await trials('worker kill -9 mid-update', async () => {
    const { s, id, acknowledged } = await slowUpdate('worker-kill', 600_000);
    const killed = kill('worker');
    const t0 = Date.now();
    await g.waitForRole('worker', killed);
    const { d, endedAt } = await checkRecovered(s, id, acknowledged);
    expect(d.status).toBe('failed');
    expect(d.message).toBe(
      'Pulumi was stopped: its worker stopped while the operation ran. The stack was recovered: its stale lock was removed and 1 pending operation(s) were cleared.',
    );
    return seconds(t0, endedAt);
  });
}, perScenario);

test('SIGTERM of the worker mid-`pulumi up`: it drains, the update finishes, its restart takes over', async () => {
  await trials('worker SIGTERM mid-update (drain)', async () => {
    const { s, id, acknowledged } = await slowUpdate('worker-drain', 8_000);
    const stopped = kill('worker', 'SIGTERM');
    const t0 = Date.now();
    // Still running while it drains: the signal reached the worker itself.
    expect(g.pidOf('worker')).toBe(stopped);
    const { d, endedAt } = await checkRecovered(s, id, acknowledged);
    expect(d.status).toBe('succeeded');
    expect((await readAllLogs(g, s.path, id)).map((l) => l.line ?? '').join('')).toMatch(/hello\s+created/);
    return seconds(t0, endedAt);
  });
}, perScenario);

test('kill -9 of the API mid-request: whatever was queued runs once, the stack deploys again', async () => {
  await trials('API kill -9 mid-request', async () => {
    const s = await newStack('api-request', 0);
    const answer = callApi(g.url, g.config.token, `${s.path}/deployments`, { method: 'POST', body: { operation: 'update' } }).catch((err: Error) => err);
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    const killed = kill('api');
    const t0 = Date.now();
    const res = await answer;
    await g.waitForRole('api', killed);
    // The request either failed without a deployment or queued one, which then runs as any other:
    // it is the stack's next update.
    const { body } = await g.api(`${s.path}/deployments?pageSize=100`);
    const servingAt = Date.now();
    const ids: string[] = body.deployments.map((d: { id: string }) => d.id);
    const answered = !(res instanceof Error) && res.status === 202;
    if (answered) expect(ids).toEqual([res.body.id]);
    expect(ids.length).toBeLessThanOrEqual(1);
    // A request that got no answer may have been recorded but never reached its queue: the
    // reconciler ends that deployment "Not run" after its grace period, and it runs nothing.
    if (ids[0] && !answered) {
      const d = await waitForDeployment(g, s.path, ids[0], 300_000);
      if (d.status === 'failed' && /^Not run: /.test(d.message)) ids.pop();
    }
    await checkNextUpdate(s, ids[0] ?? (await deploy(s)));
    return seconds(t0, servingAt);
  });
}, perScenario);

test('kill -9 of the API mid-SSE stream: a reconnect with Last-Event-ID resumes without loss', async () => {
  await trials('API kill -9 mid-SSE stream', async () => {
    const s = await newStack('api-sse', 8_000);
    const id = await deploy(s);
    const logsUrl = `${g.url}${s.path}/deployments/${id}/logs`;
    const first = await followLogs(logsUrl, g.config.token);
    const isCreating = (e: SseEvent) => e.event === 'line' && creating.test(JSON.parse(e.data!).line ?? '');
    const before = await first.readUntil(isCreating);
    const killed = kill('api');
    const t0 = Date.now();
    await first.close();
    await g.waitForRole('api', killed);
    await g.api(`${s.path}/deployments/${id}`);
    const second = await followLogs(logsUrl, g.config.token, before.at(-1)!.id);
    const after = await second.readUntil((e) => e.event === 'end');
    expect(after.at(-1)!.event).toBe('end');
    const resumedAt = Date.now();
    expect([...linesOf(before), ...linesOf(after)]).toEqual(await readAllLogs(g, s.path, id));
    await checkRecovered(s, id, linesOf(before));
    return seconds(t0, resumedAt);
  });
}, perScenario);

test('kill -9 of the Temporal dev server mid-deployment: it restarts on the same database and the deployment ends', async () => {
  await trials('dev server kill -9 mid-update', async () => {
    const { s, id, acknowledged } = await slowUpdate('temporal-kill', 10_000);
    const killed = kill('temporal');
    const t0 = Date.now();
    await g.waitForRole('temporal', killed);
    const { endedAt } = await checkRecovered(s, id, acknowledged);
    return seconds(t0, endedAt);
  });
}, perScenario);

test('a database write failure while a step logs: lines are kept and written once the database is back', async () => {
  await trials('database locked during logging', async () => {
    // A step that logs steadily for 10 s.
    const s = await newStack('db-blip', 0, ['for i in $(seq 1 40); do echo "tick $i"; sleep 0.25; done']);
    const id = await deploy(s);
    await waitForLog(g, s.path, id, /tick 4\n/);
    const acknowledged = await readSoFar(s, id);
    const warningsBefore = g.output().split('could not write log lines').length;
    // Another writer holds SQLite's write lock: the worker's writes fail (SQLITE_BUSY) meanwhile.
    const db = new Sqlite(g.config.databaseUrl);
    db.exec('BEGIN IMMEDIATE');
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 6_000));
    db.exec('COMMIT');
    db.close();
    const { d, endedAt } = await checkRecovered(s, id, acknowledged);
    expect(d.status).toBe('succeeded');
    const ticks = (await readAllLogs(g, s.path, id)).map((l) => l.line ?? '').filter((l) => l.startsWith('tick '));
    expect(ticks).toEqual(Array.from({ length: 40 }, (_, i) => `tick ${i + 1}\n`));
    expect(g.output().split('could not write log lines').length).toBeGreaterThan(warningsBefore);
    return seconds(t0, endedAt);
  });
}, perScenario);
