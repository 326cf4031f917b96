import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { newOutDir, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { stepLog, waitForStatus } from '../helpers/approvals';

// requireApproval on `destroy` and `remediate-drift`, through the real API, Temporal, git and pulumi:
// each previews what it would do, waits, and applies it only once approved.
const org = `aprop${Date.now().toString(36)}`;
const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;
const STACKS = { 'destroy-ok': 'destroy', 'destroy-no': 'destroy', 'drift-ok': 'remediate-drift', 'drift-no': 'remediate-drift' } as const;
type Name = keyof typeof STACKS;

let sw: Stackwright;
let repo: TestRepo;
/** The deployments are requested with the bootstrap token; another token decides (no self-approval). */
let approver: string;
/** Each stack's file, its deployment, what it showed while waiting and the answer to the decision. */
const started = {} as Record<Name, { file: string; id: string; waiting: any; fileWhileWaiting: string | null; decided: number }>;
const DECISIONS: Record<Name, ['approve' | 'reject', string]> = {
  'destroy-ok': ['approve', 'decommission'],
  'destroy-no': ['reject', 'still in use'],
  'drift-ok': ['approve', 'put it back'],
  'drift-no': ['reject', 'the change by hand is wanted'],
};

// The stacks run side by side, each decided as soon as it waits: their Pulumi runs overlap.
beforeAll(async () => {
  sw = await startStackwright();
  repo = createProgramRepo('website');
  const token = await sw.api('/api/tokens', { method: 'POST', body: { name: `approver-${org}`, role: 'deployer', organization: org } });
  expect(token.status).toBe(201);
  approver = token.body.token;
  await Promise.all(
    (Object.keys(STACKS) as Name[]).map(async (name) => {
      const { file, id } = await setUp(name);
      const waiting = await waitForStatus(sw, stackPath(name), id, 'waiting-for-approval');
      const fileWhileWaiting = existsSync(file) ? readFileSync(file, 'utf8') : null;
      const [decision, comment] = DECISIONS[name];
      const decided = (await sw.api(`${stackPath(name)}/deployments/${id}/${decision}`, { method: 'POST', body: { comment }, token: approver })).status;
      started[name] = { file, id, waiting, fileWhileWaiting, decided };
    }),
  );
}, 300_000);
afterAll(async () => sw?.stop());

/** Deploys the stack without approval, drifts it when needed, then requests the operation that must wait. */
async function setUp(name: Name): Promise<{ file: string; id: string }> {
  const outDir = newOutDir();
  const settings = await sw.api(`${stackPath(name)}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoUrl: repo.url, branch: 'main' } },
      operationContext: { preRunCommands: [linkDependencies], environmentVariables: { OUT_DIR: outDir }, options: { skipInstallDependencies: true } },
    },
  });
  expect(settings.status).toBe(200);
  const update = await sw.api(`${stackPath(name)}/deployments`, { method: 'POST', body: { operation: 'update' } });
  expect((await waitForDeployment(sw, stackPath(name), update.body.id)).status).toBe('succeeded');
  const file = join(outDir, 'hello.txt');
  if (STACKS[name] === 'remediate-drift') writeFileSync(file, 'changed by hand');
  // requireApproval on the create request only: the stack's settings stay without it.
  const res = await sw.api(`${stackPath(name)}/deployments`, { method: 'POST', body: { operation: STACKS[name], operationContext: { options: { requireApproval: {} } } } });
  expect(res.status).toBe(202);
  return { file, id: res.body.id };
}

/** What the deployment showed while it waited, and how it ended once decided. */
async function outcome(name: Name) {
  const { id, waiting, decided } = started[name];
  expect(waiting.jobs[0].steps.map((s: any) => s.name)).toEqual(['Get source', 'Pre-run command 1', 'Preview for approval', 'Approval', 'Pulumi operation']);
  expect(decided).toBe(200);
  return { waiting, done: await waitForDeployment(sw, stackPath(name), id) };
}

test('a destroy waits with what it would delete; approved, it deletes', async () => {
  const { waiting, done } = await outcome('destroy-ok');
  expect(waiting.approval.changeSummary).toEqual({ delete: 2 });
  expect(started['destroy-ok'].fileWhileWaiting).toBe('hello from destroy-ok');
  expect([done.status, done.message]).toEqual(['succeeded', undefined]);
  expect(existsSync(started['destroy-ok'].file)).toBe(false);
  // pulumi destroy takes no plan: it previews again and compares with what was approved.
  expect(await stepLog(sw, stackPath('destroy-ok'), done.id, 4)).toContain('pulumi destroy');
}, 300_000);

test('a rejected destroy deletes nothing', async () => {
  const { done } = await outcome('destroy-no');
  expect([done.status, done.message]).toEqual(['failed', `Rejected by approver-${org}: still in use`]);
  expect(readFileSync(started['destroy-no'].file, 'utf8')).toBe('hello from destroy-no');
}, 300_000);

test('a drift remediation waits with the change it would make; approved, it puts the resource back', async () => {
  const { waiting, done } = await outcome('drift-ok');
  expect(waiting.approval.changeSummary).toMatchObject({ update: 1 });
  expect(started['drift-ok'].fileWhileWaiting).toBe('changed by hand');
  expect([done.status, done.message]).toEqual(['succeeded', undefined]);
  expect(readFileSync(started['drift-ok'].file, 'utf8')).toBe('hello from drift-ok');
  expect(await stepLog(sw, stackPath('drift-ok'), done.id, 4)).toMatch(/pulumi up --refresh --plan \S+plan\.json|pulumi up --plan \S+plan\.json --refresh/);
}, 300_000);

test('a rejected drift remediation leaves the drifted resource as it is', async () => {
  const { done } = await outcome('drift-no');
  expect([done.status, done.message]).toEqual(['failed', `Rejected by approver-${org}: the change by hand is wanted`]);
  expect(readFileSync(started['drift-no'].file, 'utf8')).toBe('changed by hand');
}, 300_000);
