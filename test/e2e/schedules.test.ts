import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ScheduleNotFoundError } from '@temporalio/client';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { newOutDir, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { resolveTools } from '../../src/tools';
import { temporalScheduleId, ttlWorkflowId } from '../../src/deployments/schedules';
import { stackStateDir } from '../../src/state/backend-url';

// Schedules on the real API, Temporal dev server, git and pulumi: a scheduleOnce a few seconds ahead
// runs a real deployment, a TTL a few seconds ahead destroys a real stack (deployed from a branch
// that is gone by then) and removes it, a cron schedule skips a firing while the previous one is
// still queued, and `pulumi stack schedule` drives the same routes.
const run = promisify(execFile);
const org = `sched${Date.now().toString(36)}`;
const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;
const ref = (stack: string) => ({ org, project: 'website', stack });
// Deployments link Stackwright's own node_modules rather than install the program's packages.
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;

let sw: Stackwright;
let repo: TestRepo;
let cronId: string;

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

async function configure(stack: string, outDir: string, branch = 'main') {
  const res = await sw.api(`${stackPath(stack)}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoURL: repo.url, branch } },
      operationContext: { preRunCommands: [linkDependencies], options: { skipInstallDependencies: true }, environmentVariables: { OUT_DIR: outDir } },
    },
  });
  expect(res.status).toBe(200);
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const deployments = async (stack: string) => (await sw.api(`${stackPath(stack)}/deployments?pageSize=50&asc=true`)).body.deployments as any[];
const history = async (stack: string, id: string) => (await sw.api(`${stackPath(stack)}/deployments/schedules/${id}/history`)).body.scheduleHistoryEvents as any[];

beforeAll(async () => {
  sw = await startStackwright();
  repo = createProgramRepo('website');
  // Started first, as its firings come once a minute: its queue is paused, so the first firing's
  // deployment stays queued and the next firing overlaps it.
  await configure('cron', newOutDir());
  expect((await sw.api(`${stackPath('cron')}/deployments/pause`, { method: 'POST' })).status).toBe(200);
  const created = await sw.api(`${stackPath('cron')}/deployments/schedules`, { method: 'POST', body: { scheduleCron: '* * * * *', request: { operation: 'update' } } });
  expect(created.status).toBe(200);
  cronId = created.body.id;
});
afterAll(async () => {
  // The dev server is shared by every test file: leave no Temporal Schedule of this file behind.
  for (const stack of ['cron', 'once', 'cli', 'bad']) {
    const list = (await sw?.api(`${stackPath(stack)}/deployments/schedules`))?.body.schedules ?? [];
    for (const s of list) await sw.api(`${stackPath(stack)}/deployments/schedules/${s.id}`, { method: 'DELETE' });
  }
  await sw?.stop();
});

test('a scheduleOnce a few seconds ahead runs a real deployment through the stack queue, from a Temporal Schedule', async () => {
  const outDir = newOutDir();
  await configure('once', outDir);
  const once = inSeconds(4);
  const res = await sw.api(`${stackPath('once')}/deployments/schedules`, { method: 'POST', body: { scheduleOnce: once, request: { operation: 'update' } } });
  expect(res.status).toBe(200);
  const id = res.body.id;
  expect(res.body).toEqual({
    id,
    orgID: org,
    scheduleOnce: once.slice(0, 19).replace('T', ' '),
    nextExecution: once.replace('T', ' ').replace('Z', ''),
    paused: false,
    kind: 'deployment',
    definition: { request: { operation: 'update', inheritSettings: true } },
    created: expect.any(String),
    modified: expect.any(String),
    lastExecuted: '',
  });
  // Visible in the Temporal UI's schedule list.
  const described = await sw.temporal.schedule.getHandle(temporalScheduleId(ref('once'), id)).describe();
  expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'scheduledDeployment' });
  expect((await sw.api(`${stackPath('once')}/deployments/metadata`)).body.hasSchedules).toBe(true);

  const queued = await eventually('the scheduled deployment', async () => (await deployments('once'))[0]);
  expect(queued).toMatchObject({ pulumiOperation: 'update', initiator: 'schedule' });
  expect(Date.parse(`${queued.created.replace(' ', 'T')}Z`)).toBeGreaterThanOrEqual(Date.parse(once) - 1000);
  expect(await waitForDeployment(sw, stackPath('once'), queued.id)).toMatchObject({ status: 'succeeded' });
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(true);
  expect(await history('once', id)).toEqual([{ id: expect.any(String), scheduledActionID: id, executed: expect.any(String), version: 1, result: 'succeeded', deploymentID: queued.id }]);
  const after = (await sw.api(`${stackPath('once')}/deployments/schedules/${id}`)).body;
  expect(after).toMatchObject({ nextExecution: '', lastExecuted: expect.stringMatching(/^\d{4}-/) });
});

test('a TTL a few seconds ahead warns, destroys the stack from the commit it was deployed from, and removes it', async () => {
  const outDir = newOutDir();
  execFileSync('git', ['-C', repo.bare, 'branch', 'review-1', 'main']);
  await configure('ttl', outDir, 'review-1');
  const up = await sw.api(`${stackPath('ttl')}/deployments`, { method: 'POST', body: { operation: 'update' } });
  expect(await waitForDeployment(sw, stackPath('ttl'), up.body.id)).toMatchObject({ status: 'succeeded' });
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(true);
  // The branch is gone by the deadline: the destroy runs the commit that was deployed.
  execFileSync('git', ['-C', repo.bare, 'branch', '-D', 'review-1']);

  const timestamp = inSeconds(60);
  const res = await sw.api(`${stackPath('ttl')}/deployments/ttl/schedules`, { method: 'POST', body: { timestamp, deleteAfterDestroy: true } });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({
    scheduleOnce: timestamp.slice(0, 19).replace('T', ' '),
    definition: { request: { inheritSettings: true, operation: 'destroy', operationContext: { options: { deleteAfterDestroy: true } } } },
  });
  expect((await sw.api(`${stackPath('ttl')}/deployments/ttl/schedules`, { method: 'POST', body: { timestamp } })).status).toBe(409);
  // Shortened to a few seconds from now: the running timer moves.
  const soon = inSeconds(4);
  const updated = await sw.api(`${stackPath('ttl')}/deployments/ttl/schedules/${res.body.id}`, { method: 'POST', body: { timestamp: soon, deleteAfterDestroy: true } });
  expect(updated.body).toMatchObject({ scheduleOnce: soon.slice(0, 19).replace('T', ' ') });
  // A running workflow in the Temporal UI's workflow list.
  expect((await sw.temporal.workflow.getHandle(ttlWorkflowId(ref('ttl'))).describe()).status.name).toBe('RUNNING');

  const destroy = await eventually('the TTL destroy', async () => (await deployments('ttl')).find((d) => d.pulumiOperation === 'destroy'));
  expect(destroy).toMatchObject({ initiator: 'schedule' });
  expect(destroy.jobs[0].steps[0].name).toBe('Get source');
  expect(await waitForDeployment(sw, stackPath('ttl'), destroy.id)).toMatchObject({ status: 'succeeded' });
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(false);
  expect(await sw.temporal.workflow.getHandle(ttlWorkflowId(ref('ttl'))).result()).toBe('destroyed and removed');

  // Removed: its Pulumi state, settings and schedules.
  expect(existsSync(join(stackStateDir(sw.config.dataDir, ref('ttl')), '.pulumi', 'stacks', 'website', 'ttl.json'))).toBe(false);
  expect((await sw.api(`${stackPath('ttl')}/deployments/settings`)).status).toBe(404);
  expect((await sw.api(`${stackPath('ttl')}/deployments/schedules`)).body.schedules).toEqual([]);
  const events = (await sw.api(`/api/orgs/${org}/auditlogs?pageSize=100`)).body.auditLogEvents as any[];
  const mine = events.filter((e) => e.target.startsWith(`${org}/website/ttl`)).map((e) => e.event);
  // The default lead times (24 h and 1 h) had both passed when the TTL was set.
  expect(mine.filter((e) => e === 'deployment_ttl_warning').length).toBeGreaterThanOrEqual(2);
  expect(mine).toContain('stack.remove');
});

describe('pulumi stack schedule', () => {
  let project: string;
  let env: NodeJS.ProcessEnv;
  const fq = `${org}/website/cli`;
  const pulumi = async (...args: string[]) => {
    const r = await run(join(resolveTools().pulumiRoot, 'bin', 'pulumi'), args, { cwd: project, env, timeout: 120_000 });
    return r.stdout;
  };

  beforeAll(async () => {
    project = mkdtempSync(join(tmpdir(), 'stackwright-sched-cli-'));
    writeFileSync(join(project, 'Pulumi.yaml'), 'name: website\nruntime: nodejs\n');
    env = { PATH: process.env.PATH, HOME: project, PULUMI_HOME: join(project, '.pulumi'), PULUMI_SKIP_UPDATE_CHECK: 'true', PULUMI_ACCESS_TOKEN: sw.token };
    await configure('cli', newOutDir());
    await pulumi('login', sw.url);
  });

  test('new, list, get and remove', async () => {
    const raw = JSON.parse(await pulumi('stack', 'schedule', 'new', '--stack', fq, '--kind', 'raw', '--operation', 'refresh', '--cron', '0 3 * * *', '--yes', '--output', 'json'));
    expect(raw).toMatchObject({ id: expect.any(String), type: 'raw', settings: 'pulumi refresh', schedule: expect.stringContaining('0 3 * * *') });
    const drift = JSON.parse(await pulumi('stack', 'schedule', 'new', '--stack', fq, '--kind', 'drift', '--cron', '0 */4 * * *', '--auto-remediate', '--yes', '--output', 'json'));
    expect(drift).toMatchObject({ type: 'drift', settings: 'detect + auto-remediate' });
    const ttl = JSON.parse(await pulumi('stack', 'schedule', 'new', '--stack', fq, '--kind', 'ttl', '--once', '2099-01-01T00:00:00Z', '--delete-after-destroy', '--yes', '--output', 'json'));
    expect(ttl).toMatchObject({ type: 'ttl', settings: 'destroy + delete stack' });

    const list = await pulumi('stack', 'schedule', 'list', '--stack', fq);
    for (const id of [raw.id, drift.id, ttl.id]) expect(list).toContain(id);
    const got = JSON.parse(await pulumi('stack', 'schedule', 'get', raw.id, '--stack', fq, '--output', 'json'));
    expect(got).toMatchObject({ id: raw.id, type: 'raw', settings: 'pulumi refresh' });

    expect(await pulumi('stack', 'schedule', 'remove', ttl.id, '--stack', fq, '--yes')).toContain(`Schedule '${ttl.id}' has been removed.`);
    const ids = (await sw.api(`${stackPath('cli')}/deployments/schedules`)).body.schedules.map((s: { id: string }) => s.id);
    expect(ids.sort()).toEqual([raw.id, drift.id].sort());
    // The TTL's workflow went with it.
    const ttlRun = sw.temporal.workflow.getHandle(ttlWorkflowId(ref('cli')));
    await eventually('the TTL workflow cancelled', async () => ((await ttlRun.describe()).status.name === 'CANCELLED' ? true : undefined), 20_000);
  });
});

test('bad inputs are answered 400 or 404 naming the field', async () => {
  await configure('bad', newOutDir());
  const post = (path: string, body: unknown) => sw.api(`${stackPath('bad')}/deployments/${path}`, { method: 'POST', body });
  const fields = (r: { body: { errors?: { field: string }[] } }) => r.body.errors?.map((e) => e.field);
  const request = { operation: 'update' };
  const cases: [string, unknown, string][] = [
    ['schedules', { scheduleCron: '0 0 * * *', scheduleOnce: inSeconds(3600), request }, 'scheduleCron'],
    ['schedules', { request }, 'scheduleCron'],
    ['schedules', { scheduleCron: '61 * * * *', request }, 'scheduleCron'],
    ['schedules', { scheduleCron: '* * * *', request }, 'scheduleCron'],
    ['schedules', { scheduleOnce: '2020-01-01T00:00:00Z', request }, 'scheduleOnce'],
    ['schedules', { scheduleOnce: 'tomorrow', request }, 'scheduleOnce'],
    ['schedules', { scheduleCron: '0 0 * * *', request: { operation: 'deploy' } }, 'request.operation'],
    ['schedules', { scheduleCron: '0 0 * * *' }, 'request'],
    ['drift/schedules', { autoRemediate: true }, 'scheduleCron'],
    ['ttl/schedules', { timestamp: '2020-01-01T00:00:00Z' }, 'timestamp'],
    ['ttl/schedules', { timestamp: inSeconds(3600), deleteAfterDestroy: 'yes' }, 'deleteAfterDestroy'],
  ];
  for (const [path, body, field] of cases) {
    const r = await post(path, body);
    expect([path, JSON.stringify(body), r.status, fields(r)]).toEqual([path, JSON.stringify(body), 400, [field]]);
  }
  expect((await sw.api(`${stackPath('bad')}/deployments/schedules/nope`)).status).toBe(404);
  expect((await post('schedules/nope', { scheduleCron: '0 0 * * *', request })).status).toBe(404);
  expect((await post('ttl/schedules/nope', { timestamp: inSeconds(3600) })).status).toBe(404);
  expect((await post('schedules/nope/pause', {})).status).toBe(404);
  expect((await sw.api(`${stackPath('bad')}/deployments/schedules/nope/history`)).status).toBe(404);
  expect((await sw.api(`${stackPath('bad')}/deployments/schedules/nope`, { method: 'DELETE' })).status).toBe(404);
  // A stack without deployment settings cannot be scheduled.
  const bare = await sw.api(`${stackPath('nosettings')}/deployments/drift/schedules`, { method: 'POST', body: { scheduleCron: '0 0 * * *' } });
  expect(bare).toMatchObject({ status: 400, body: { message: expect.stringContaining('no deployment settings') } });
  // A drift schedule is updated at its own path.
  const drift = await post('drift/schedules', { scheduleCron: '0 0 * * *' });
  expect(drift.body.definition.request).toEqual({ inheritSettings: true, operation: 'detect-drift', operationContext: { options: { remediateIfDriftDetected: false } } });
  expect((await post(`ttl/schedules/${drift.body.id}`, { timestamp: inSeconds(3600) })).status).toBe(400);
});

test('a cron schedule fires every minute, records an overlapping firing as skipped, and pauses and resumes', async () => {
  const events = await eventually('two firings', async () => {
    const h = await history('cron', cronId);
    return h.length >= 2 ? h : undefined;
  }, 150_000);
  // Newest first: the second firing found the first one's deployment still queued (the stack is paused).
  expect(events.map((e) => e.result).slice(-2)).toEqual(['skipped', 'not-started']);
  const [first] = await deployments('cron');
  expect(first).toMatchObject({ initiator: 'schedule', status: 'not-started' });
  expect(events.at(-1).deploymentID).toBe(first.id);
  expect(events.at(-2).message).toBe(`Skipped: deployment ${first.version} of the previous firing is still not-started.`);

  const handle = sw.temporal.schedule.getHandle(temporalScheduleId(ref('cron'), cronId));
  expect((await sw.api(`${stackPath('cron')}/deployments/schedules/${cronId}/pause`, { method: 'POST' })).status).toBe(200);
  expect((await sw.api(`${stackPath('cron')}/deployments/schedules/${cronId}`)).body.paused).toBe(true);
  expect((await handle.describe()).state.paused).toBe(true);
  expect((await sw.api(`${stackPath('cron')}/deployments/schedules/${cronId}/resume`, { method: 'POST' })).status).toBe(200);
  expect((await handle.describe()).state.paused).toBe(false);

  expect((await sw.api(`${stackPath('cron')}/deployments/schedules/${cronId}`, { method: 'DELETE' })).status).toBe(200);
  await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  expect((await sw.api(`${stackPath('cron')}/deployments/metadata`)).body.hasSchedules).toBe(false);
});
