import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { newOutDir, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { stepLog as readStepLog, waitForStatus as waitForAnyStatus } from '../helpers/approvals';
import { resolveTools } from '../../src/tools';
import { stackPassphrase, stackStateDir } from '../../src/activities/stack-state';

// requireApproval through the real API, Temporal, git and pulumi: a deployment previews with a saved
// plan, waits for approvals, and applies exactly that plan (or fails when it no longer applies).
const org = `appr${Date.now().toString(36)}`;
const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;
const nodeModules = join(__dirname, '..', '..', 'node_modules');
// The program links Stackwright's own node_modules (the same @pulumi/pulumi) instead of installing.
const linkDependencies = `ln -s ${nodeModules} node_modules`;
// Steps: Get source, Pre-run command 1, Preview for approval, Approval, Pulumi operation.
const PREVIEW_STEP = 2;
const APPROVAL_STEP = 3;

let sw: Stackwright;
let repo: TestRepo;
const tokens: Record<string, string> = {};
/** Each scenario's stack, its output directory and its first deployment, all started at once (their previews overlap). */
const started: Record<string, { outDir: string; id: string }> = {};
/** The stack-changed scenario runs from the start, beside the others (its second pulumi run is slow). */
let changedRun: Promise<{ before: string; approved: number; done: any }>;
const SCENARIOS: Record<string, object> = {
  two: { approvers: ['alice', 'bob', 'carol'], requiredApprovals: 2 },
  rejected: {},
  changed: {},
  held: {},
};

beforeAll(async () => {
  sw = await startStackwright();
  repo = createProgramRepo('website');
  for (const [name, role] of [
    ['alice', 'deployer'],
    ['bob', 'deployer'],
    ['carol', 'deployer'],
    ['dave', 'deployer'],
    ['vic', 'viewer'],
  ] as const) {
    const res = await sw.api('/api/tokens', { method: 'POST', body: { name: `${name}-${org}`, role, organization: org } });
    expect(res.status).toBe(201);
    tokens[name] = res.body.token;
  }
  await Promise.all(
    Object.entries(SCENARIOS).map(async ([stack, policy]) => {
      const p = policy as { approvers?: string[] };
      const outDir = await configure(stack, p.approvers ? { ...policy, approvers: p.approvers.map(who) } : policy);
      started[stack] = { outDir, id: await deploy(stack) };
    }),
  );
  changedRun = runChanged();
  changedRun.catch(() => undefined); // awaited by its test
}, 120_000);

async function runChanged() {
  const { outDir, id } = started.changed;
  await waitForStatus('changed', id, 'waiting-for-approval');
  // A second path to the same stack: the pulumi CLI on its state, creating the resource with other content.
  await sneakyUpdate('changed', outDir, 'sneaky');
  const before = readFileSync(join(outDir, 'hello.txt'), 'utf8');
  const approved = (await decide('changed', id, 'approve', 'bob')).status;
  return { before, approved, done: await waitForDeployment(sw, stackPath('changed'), id) };
}
afterAll(async () => sw?.stop());

const who = (name: string) => `${name}-${org}`;

async function configure(stack: string, requireApproval: object): Promise<string> {
  const outDir = newOutDir();
  const res = await sw.api(`${stackPath(stack)}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoUrl: repo.url, branch: 'main' } },
      operationContext: {
        preRunCommands: [linkDependencies],
        environmentVariables: { OUT_DIR: outDir },
        options: { skipInstallDependencies: true, requireApproval },
      },
    },
  });
  expect(res.status).toBe(200);
  return outDir;
}

async function deploy(stack: string, as = 'alice'): Promise<string> {
  const res = await sw.api(`${stackPath(stack)}/deployments`, { method: 'POST', body: { operation: 'update' }, token: tokens[as] });
  expect(res.status).toBe(202);
  return res.body.id;
}

const waitForStatus = (stack: string, id: string, status: string) => waitForAnyStatus(sw, stackPath(stack), id, status);

const decide = (stack: string, id: string, decision: 'approve' | 'reject', as: string, body?: unknown) =>
  sw.api(`${stackPath(stack)}/deployments/${id}/${decision}`, { method: 'POST', token: tokens[as], body });

const stepLog = (stack: string, id: string, step: number) => readStepLog(sw, stackPath(stack), id, step);

test('an update waits after its preview; self-approval and non-approvers are refused; two approvals, across a worker restart, apply the plan', async () => {
  const { outDir, id } = started.two;
  const waiting = await waitForStatus('two', id, 'waiting-for-approval');
  // Nothing is applied before approval; the answer shows what is to be approved and where its preview is.
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(false);
  // The stack and its one file.
  expect(waiting.approval).toMatchObject({ changeSummary: { create: 2 }, requiredApprovals: 2 });
  expect(waiting.approvals).toEqual([]);
  expect(waiting.jobs[0].steps.map((s: any) => [s.name, s.status])).toEqual([
    ['Get source', 'succeeded'],
    ['Pre-run command 1', 'succeeded'],
    ['Preview for approval', 'succeeded'],
    ['Approval', 'running'],
    ['Pulumi operation', 'not-started'],
  ]);
  expect(waiting.approval.previewLogs).toBe(`${stackPath('two')}/deployments/${id}/logs?step=${PREVIEW_STEP}`);
  expect(await stepLog('two', id, PREVIEW_STEP)).toMatch(/\$ pulumi preview --save-plan \S+plan\.json --stack two/);

  const self = await decide('two', id, 'approve', 'alice');
  expect([self.status, self.body.message]).toEqual([403, `"${who('alice')}" requested this deployment and may not decide on it (allowSelfApproval is false)`]);
  const outsider = await decide('two', id, 'approve', 'dave');
  expect([outsider.status, outsider.body.message]).toEqual([403, `"${who('dave')}" is not one of this deployment's approvers`]);
  expect((await decide('two', id, 'approve', 'vic')).status).toBe(403);

  const first = await decide('two', id, 'approve', 'bob');
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ waiting: true, requiredApprovals: 2, approvals: [{ decision: 'approve', name: who('bob'), source: 'api' }] });
  const again = await decide('two', id, 'approve', 'bob');
  expect(again.status).toBe(409);
  expect((await sw.api(`${stackPath('two')}/deployments/${id}`)).body.status).toBe('waiting-for-approval');
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(false);
  // A worker restart while waiting changes nothing: the wait is in Temporal, the plan in the workspace.
  await sw.restartWorker();

  const second = await decide('two', id, 'approve', 'carol', { comment: 'looks right' });
  expect(second.status).toBe(200);
  expect(second.body.waiting).toBe(false);
  const done = await waitForDeployment(sw, stackPath('two'), id);
  expect([done.status, done.message]).toEqual(['succeeded', undefined]);
  expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('hello from two');
  expect(done.approvals.map((a: any) => [a.decision, a.name, a.comment])).toEqual([
    ['approve', who('bob'), undefined],
    ['approve', who('carol'), 'looks right'],
  ]);
  const approvalLog = await stepLog('two', id, APPROVAL_STEP);
  expect(approvalLog).toContain(`Approved by ${who('bob')}`);
  expect(approvalLog).toContain(`Approved by ${who('carol')}: looks right`);
  expect(approvalLog).toContain('[deployment_approval_requested]');
  expect(approvalLog).toContain('[deployment_approval_approved]');
  expect(await stepLog('two', id, APPROVAL_STEP + 1)).toMatch(/\$ pulumi up --plan \S+plan\.json --stack two/);

  // It is no longer waiting.
  const late = await decide('two', id, 'approve', 'dave');
  expect([late.status, late.body.message]).toEqual([409, 'the deployment is not waiting for approval (it is succeeded)']);
}, 400_000);

test('a rejection applies nothing and fails the deployment with its comment', async () => {
  const { outDir, id } = started.rejected;
  await waitForStatus('rejected', id, 'waiting-for-approval');
  const res = await decide('rejected', id, 'reject', 'bob', { comment: 'not during the freeze' });
  expect(res.status).toBe(200);
  const done = await waitForDeployment(sw, stackPath('rejected'), id);
  expect([done.status, done.message]).toEqual(['failed', `Rejected by ${who('bob')}: not during the freeze`]);
  expect(done.jobs[0].steps.map((s: any) => s.status).slice(APPROVAL_STEP)).toEqual(['failed', 'not-started']);
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(false);
  expect(await stepLog('rejected', id, APPROVAL_STEP)).toContain(`Rejected by ${who('bob')}: not during the freeze`);
}, 300_000);

test('a stack changed between preview and approval makes the plan fail instead of applying unreviewed changes', async () => {
  const { outDir } = started.changed;
  const { before, approved, done } = await changedRun;
  expect(before).toBe('sneaky from changed');
  expect(approved).toBe(200);
  expect(done.status).toBe('failed');
  expect(done.message).toMatch(/^The approved plan no longer applies \(the stack changed since its preview\); nothing beyond it was applied: .*not allowed by the plan/);
  expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('sneaky from changed');
}, 300_000);

test('cancel works while waiting, and the stack queue holds behind a waiting deployment', async () => {
  const first = started.held.id;
  await waitForStatus('held', first, 'waiting-for-approval');
  const second = await deploy('held', 'bob');
  await new Promise((r) => setTimeout(r, 2000));
  expect((await sw.api(`${stackPath('held')}/deployments/${second}`)).body.status).toBe('not-started');

  expect((await sw.api(`${stackPath('held')}/deployments/${first}/cancel`, { method: 'POST' })).status).toBe(200);
  const cancelled = await waitForDeployment(sw, stackPath('held'), first);
  expect([cancelled.status, cancelled.message]).toEqual(['failed', 'Cancelled by request.']);
  expect(cancelled.jobs[0].steps[APPROVAL_STEP].status).toBe('failed');
  // The next one starts once the first ended.
  await waitForStatus('held', second, 'running');
  expect((await sw.api(`${stackPath('held')}/deployments/${second}/cancel`, { method: 'POST' })).status).toBe(200);
  expect((await waitForDeployment(sw, stackPath('held'), second)).status).toBe('failed');
}, 300_000);

test('bad inputs: settings fields, decision bodies, unknown and finished deployments', async () => {
  const settings = (requireApproval: unknown) =>
    sw.api(`${stackPath('bad')}/deployments/settings`, { method: 'POST', body: { operationContext: { options: { requireApproval } } } });
  const fieldsOf = (res: { status: number; body: any }) => [res.status, res.body.errors?.map((e: any) => e.field)];
  expect(fieldsOf(await settings({ requiredApprovals: 0 }))).toEqual([400, ['operationContext.options.requireApproval.requiredApprovals']]);
  expect(fieldsOf(await settings({ approvalTimeout: '3 days' }))).toEqual([400, ['operationContext.options.requireApproval.approvalTimeout']]);
  expect(fieldsOf(await settings({ approvalTimeout: '2h', reminders: ['1h', '3h'] }))).toEqual([400, ['operationContext.options.requireApproval.reminders.1']]);
  expect(fieldsOf(await settings({ approvers: ['role:owner'] }))).toEqual([400, ['operationContext.options.requireApproval.approvers.0']]);
  expect(fieldsOf(await settings({ approvers: ['a'], requiredApprovals: 2 }))).toEqual([400, ['operationContext.options.requireApproval.requiredApprovals']]);
  expect(fieldsOf(await settings({ quorum: 2 }))).toEqual([400, ['operationContext.options.requireApproval.quorum']]);
  // Approvals always hold the queue: the opposite is refused rather than ignored.
  expect(fieldsOf(await settings({ holdQueue: false }))).toEqual([400, ['operationContext.options.requireApproval.holdQueue']]);
  expect((await settings({ holdQueue: true })).status).toBe(200);
  // On a create request too.
  const create = await sw.api(`${stackPath('bad')}/deployments`, {
    method: 'POST',
    body: { operation: 'update', sourceContext: { git: { repoUrl: repo.url } }, operationContext: { options: { requireApproval: { allowSelfApproval: 'yes' } } } },
  });
  expect(fieldsOf(create)).toEqual([400, ['operationContext.options.requireApproval.allowSelfApproval']]);
  // A preview never waits: asking it to is refused rather than ignored.
  const preview = await sw.api(`${stackPath('bad')}/deployments`, {
    method: 'POST',
    body: { operation: 'preview', sourceContext: { git: { repoUrl: repo.url } }, operationContext: { options: { requireApproval: {} } } },
  });
  expect(fieldsOf(preview)).toEqual([400, ['operationContext.options.requireApproval']]);
  // An explicit null is "not set".
  expect((await settings(null)).status).toBe(200);

  const unknown = await decide('two', '00000000-0000-0000-0000-000000000000', 'approve', 'bob');
  expect([unknown.status, unknown.body.message]).toEqual([404, 'deployment not found']);
  const finished = (await sw.api(`${stackPath('two')}/deployments`)).body.deployments[0].id;
  expect((await decide('two', finished, 'reject', 'bob')).status).toBe(409);
  expect(fieldsOf(await decide('two', finished, 'approve', 'bob', { comment: 42 }))).toEqual([400, ['comment']]);
  expect(fieldsOf(await decide('two', finished, 'approve', 'bob', { comment: 'ok', by: 'me' }))).toEqual([400, ['by']]);
}, 60_000);

/** `pulumi up` on the stack's own state, outside Stackwright. */
async function sneakyUpdate(stack: string, outDir: string, greeting: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stackwright-sneaky-'));
  cpSync(join(__dirname, '..', 'fixtures', 'program'), dir, { recursive: true });
  writeFileSync(join(dir, 'Pulumi.yaml'), 'name: website\nruntime: nodejs\n');
  symlinkSync(nodeModules, join(dir, 'node_modules'));
  const ref = { org, project: 'website', stack };
  // Not execFileSync: the worker runs in this process and must keep running.
  await promisify(execFile)(join(resolveTools().pulumiRoot, 'bin', 'pulumi'), ['up', '--yes', '--skip-preview', '--stack', `organization/website/${stack}`], {
    cwd: dir,
    env: {
      ...process.env,
      PATH: `${join(resolveTools().pulumiRoot, 'bin')}:${process.env.PATH}`,
      PULUMI_BACKEND_URL: `file://${stackStateDir(sw.config.dataDir, ref)}`,
      PULUMI_CONFIG_PASSPHRASE: stackPassphrase(sw.config.secretsKey, ref),
      PULUMI_HOME: join(dir, '.pulumi-home'),
      PULUMI_SKIP_UPDATE_CHECK: 'true',
      OUT_DIR: outDir,
      GREETING: greeting,
    },
  });
}
