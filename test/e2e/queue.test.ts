import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { readAllLogs, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { exportStack, lockFiles, waitForLog } from '../helpers/pulumi-state';

// The stack queue through the real API, Temporal, git and pulumi: bursts, pause and resume, cancel.
const org = `q${Date.now().toString(36)}`;
const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;

let sw: Stackwright;
let repo: TestRepo;

beforeAll(async () => {
  sw = await startStackwright({ STACKWRIGHT_KILL_GRACE_SECONDS: '2' });
  repo = createProgramRepo('website');
}, 600_000);
afterAll(async () => sw?.stop());

async function configure(stack: string, env: Record<string, string>, options: object = {}): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'stackwright-out-'));
  const res = await sw.api(`${stackPath(stack)}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoUrl: repo.url, branch: 'main' } },
      operationContext: { environmentVariables: { OUT_DIR: outDir, ...env }, options },
    },
  });
  expect(res.status).toBe(200);
  return outDir;
}

const deploy = async (stack: string, body: object = { operation: 'update' }) => {
  const res = await sw.api(`${stackPath(stack)}/deployments`, { method: 'POST', body });
  expect(res.status).toBe(202);
  return res.body as { id: string; version: number };
};

const get = async (stack: string, id: string) => (await sw.api(`${stackPath(stack)}/deployments/${id}`)).body;

test('a burst of 20 updates with skipIntermediateDeployments runs the first and the newest, one at a time', async () => {
  const outDir = await configure('burst', { GREETING: 'burst' }, { skipIntermediateDeployments: true });
  const burst: { id: string; version: number }[] = [];
  for (let i = 0; i < 20; i++) burst.push(await deploy('burst'));
  expect(burst.map((d) => d.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

  const done = await Promise.all(burst.map((d) => waitForDeployment(sw, stackPath('burst'), d.id, 400_000)));
  const byVersion = new Map(done.map((d) => [d.version, d]));
  expect(byVersion.get(1).status).toBe('succeeded');
  expect(byVersion.get(20).status).toBe('succeeded');
  for (let v = 2; v < 20; v++) {
    expect(byVersion.get(v)).toMatchObject({ status: 'skipped', message: 'Skipped: a newer update (version 20) was queued.' });
    // Skipped deployments never ran a step.
    expect(byVersion.get(v).jobs[0].steps.every((s: { status: string }) => s.status === 'not-started')).toBe(true);
  }
  // Strictly serial: the newest started only after the first had ended.
  const ranSteps = (v: number) => byVersion.get(v).jobs[0].steps;
  expect(Date.parse(ranSteps(20)[0].started)).toBeGreaterThanOrEqual(Date.parse(ranSteps(1).at(-1).lastUpdated));
  expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('burst from burst');
}, 600_000);

test('a paused stack or organization queues deployments; resume runs them', async () => {
  await configure('paused', { GREETING: 'resumed' });
  expect((await sw.api(`${stackPath('paused')}/deployments/pause`, { method: 'POST' })).body).toEqual({ paused: true, stackPaused: true, organizationPaused: false, hasSchedules: false });
  expect((await sw.api(`/api/orgs/${org}/deployments/pause`, { method: 'POST' })).status).toBe(200);
  expect((await sw.api(`${stackPath('paused')}/deployments/metadata`)).body).toEqual({ paused: true, stackPaused: true, organizationPaused: true, hasSchedules: false });

  const { id } = await deploy('paused', { operation: 'preview' });
  await new Promise((r) => setTimeout(r, 3000));
  expect((await get('paused', id)).status).toBe('not-started');
  const orgMeta = (await sw.api(`/api/orgs/${org}/deployments/metadata`)).body;
  expect(orgMeta).toMatchObject({ paused: true, pausedStacks: ['website/paused'] });
  expect(orgMeta.deploymentCounts.notStarted).toBeGreaterThanOrEqual(1);

  // The stack is still paused after the organization resumes.
  await sw.api(`/api/orgs/${org}/deployments/resume`, { method: 'POST' });
  await new Promise((r) => setTimeout(r, 2000));
  expect((await get('paused', id)).status).toBe('not-started');
  expect((await sw.api(`${stackPath('paused')}/deployments/resume`, { method: 'POST' })).body).toEqual({ paused: false, stackPaused: false, organizationPaused: false, hasSchedules: false });
  expect(await waitForDeployment(sw, stackPath('paused'), id)).toMatchObject({ status: 'succeeded' });
}, 600_000);

test('cancel skips a queued deployment at once, stops a running update and recovers the stack', async () => {
  const outDir = await configure('cancel', { GREETING: 'after', CREATE_DELAY_MS: '120000' });
  const running = await deploy('cancel');
  const queued = await deploy('cancel');
  const cancelled = await sw.api(`${stackPath('cancel')}/deployments/${queued.id}/cancel`, { method: 'POST' });
  expect(cancelled).toMatchObject({ status: 200, body: { id: queued.id, cancelRequested: true } });
  expect(await waitForDeployment(sw, stackPath('cancel'), queued.id, 10_000)).toMatchObject({ status: 'skipped', message: 'Cancelled before it started.' });

  await waitForLog(sw, stackPath('cancel'), running.id, /hello\s+creating/);
  expect((await sw.api(`${stackPath('cancel')}/deployments/${running.id}/cancel`, { method: 'POST' })).status).toBe(200);
  const d = await waitForDeployment(sw, stackPath('cancel'), running.id, 120_000);
  expect(d).toMatchObject({
    status: 'failed',
    message: 'Cancelled by request. The stack was recovered: its stale lock was removed and 1 pending operation(s) were cleared.',
  });
  expect(d.jobs[0].steps.map((s: { name: string; status: string }) => [s.name, s.status]).slice(-2)).toEqual([
    ['Pulumi operation', 'failed'],
    ['Recover stack', 'succeeded'],
  ]);
  const log = (await readAllLogs(sw, stackPath('cancel'), running.id)).map((l) => l.line ?? `# ${l.header}\n`).join('');
  expect(log).toContain('Recovering the stack: Cancelled by request.');
  expect(log).toMatch(/Pending creating: urn:pulumi:cancel::website::.*hello/);
  expect(lockFiles(sw, org)).toEqual([]);
  expect(exportStack(sw, org, 'website', 'cancel').deployment.pending_operations ?? []).toEqual([]);
  // Cancelling a finished deployment is refused.
  expect((await sw.api(`${stackPath('cancel')}/deployments/${running.id}/cancel`, { method: 'POST' })).status).toBe(409);

  // The stack is usable again.
  const again = await deploy('cancel', { operation: 'update', operationContext: { environmentVariables: { CREATE_DELAY_MS: '0' } } });
  expect(await waitForDeployment(sw, stackPath('cancel'), again.id)).toMatchObject({ status: 'succeeded' });
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(true);
}, 600_000);
