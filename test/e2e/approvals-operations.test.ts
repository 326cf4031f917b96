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
/** Each stack's file and its waiting deployment; the stacks are set up side by side. */
const started = {} as Record<Name, { file: string; id: string }>;

beforeAll(async () => {
  sw = await startStackwright();
  repo = createProgramRepo('website');
  await Promise.all((Object.keys(STACKS) as Name[]).map(async (name) => (started[name] = await setUp(name))));
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

const decide = (name: Name, decision: 'approve' | 'reject', comment: string) =>
  sw.api(`${stackPath(name)}/deployments/${started[name].id}/${decision}`, { method: 'POST', body: { comment } });

async function waiting(name: Name) {
  const d = await waitForStatus(sw, stackPath(name), started[name].id, 'waiting-for-approval');
  expect(d.jobs[0].steps.map((s: any) => s.name)).toEqual(['Get source', 'Pre-run command 1', 'Preview for approval', 'Approval', 'Pulumi operation']);
  return d;
}

test('a destroy waits with what it would delete; approved, it deletes', async () => {
  const { file, id } = started['destroy-ok'];
  const d = await waiting('destroy-ok');
  expect(d.approval.changeSummary).toEqual({ delete: 2 });
  expect(existsSync(file)).toBe(true);
  expect((await decide('destroy-ok', 'approve', 'decommission')).status).toBe(200);
  const done = await waitForDeployment(sw, stackPath('destroy-ok'), id);
  expect([done.status, done.message]).toEqual(['succeeded', undefined]);
  expect(existsSync(file)).toBe(false);
  // pulumi destroy takes no plan: it previews again and compares with what was approved.
  expect(await stepLog(sw, stackPath('destroy-ok'), id, 4)).toContain('pulumi destroy');
}, 300_000);

test('a rejected destroy deletes nothing', async () => {
  const { file, id } = started['destroy-no'];
  await waiting('destroy-no');
  expect((await decide('destroy-no', 'reject', 'still in use')).status).toBe(200);
  const done = await waitForDeployment(sw, stackPath('destroy-no'), id);
  expect([done.status, done.message]).toEqual(['failed', 'Rejected by bootstrap-admin: still in use']);
  expect(readFileSync(file, 'utf8')).toBe('hello from destroy-no');
}, 300_000);

test('a drift remediation waits with the change it would make; approved, it puts the resource back', async () => {
  const { file, id } = started['drift-ok'];
  const d = await waiting('drift-ok');
  expect(d.approval.changeSummary).toMatchObject({ update: 1 });
  expect(readFileSync(file, 'utf8')).toBe('changed by hand');
  expect((await decide('drift-ok', 'approve', 'put it back')).status).toBe(200);
  const done = await waitForDeployment(sw, stackPath('drift-ok'), id);
  expect([done.status, done.message]).toEqual(['succeeded', undefined]);
  expect(readFileSync(file, 'utf8')).toBe('hello from drift-ok');
  expect(await stepLog(sw, stackPath('drift-ok'), id, 4)).toMatch(/pulumi up --refresh --plan \S+plan\.json|pulumi up --plan \S+plan\.json --refresh/);
}, 300_000);

test('a rejected drift remediation leaves the drifted resource as it is', async () => {
  const { file, id } = started['drift-no'];
  await waiting('drift-no');
  expect((await decide('drift-no', 'reject', 'the change by hand is wanted')).status).toBe(200);
  const done = await waitForDeployment(sw, stackPath('drift-no'), id);
  expect([done.status, done.message]).toEqual(['failed', 'Rejected by bootstrap-admin: the change by hand is wanted']);
  expect(readFileSync(file, 'utf8')).toBe('changed by hand');
}, 300_000);
