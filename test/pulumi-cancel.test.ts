import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createSharedActivities, createWorkspaceActivities, type ActivityDeps } from '../src/activities';
import { workspaceDir } from '../src/activities/context';
import { cwdOf, descendants } from '../src/activities/process-tree';
import { giveToSandbox } from '../src/activities/sandbox';
import { stackStateDir } from '../src/activities/stack-state';
import { SecretBox } from '../src/secret-box';
import { STEP, stepNames, type DeploymentInput } from '../src/shared/deployment';
import type { DeploymentSettings } from '../src/shared/settings';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { resolveTools } from '../src/tools';

// Cancelling the Pulumi step for real: the built pulumi CLI runs the fixture program, whose one
// resource takes a minute to create, and the activity is cancelled in the middle of that.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KILL_GRACE_MS = 2000;

let tmp: string;
let store: Store;
let deps: ActivityDeps;

let OUT: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'stackwright-pulumi-cancel-'));
  OUT = join(tmp, 'out');
  mkdirSync(OUT, { mode: 0o777 });
  chmodSync(OUT, 0o777);
  store = new Store(await openDatabase(join(tmp, 'stackwright.db')));
  deps = {
    store,
    box: new SecretBox(randomBytes(32)),
    dataDir: join(tmp, 'data'),
    pulumiRoot: resolveTools().pulumiRoot,
    pulumiPassphrase: 'test',
    secretsKey: randomBytes(32),
    // The program's node_modules is a link to the repository's, and it writes its files to out/.
    sandbox: { binds: [{ path: OUT, readOnly: false }, { path: resolve(__dirname, '..', 'node_modules'), readOnly: true }] },
    publicUrl: 'http://x',
    taskQueue: 'q',
    sessionQueue: 'q',
    killGraceMs: KILL_GRACE_MS,
    pulumiIdleTimeoutMs: 600_000,
    pulumiMaxDurationMs: 600_000,
  };
});
afterAll(async () => {
  await store?.db.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Processes started (directly or not) by this jest process that still work inside `dir`. */
const processesIn = (dir: string) => descendants().filter((pid) => cwdOf(pid)?.startsWith(dir));

test('cancelling pulumi up stops every process of the operation and fails the step', async () => {
  const ref = { org: `o${Date.now().toString(36)}`, project: 'website', stack: 'dev' };
  const outDir = join(OUT, 'up');
  const settings: DeploymentSettings = {
    operationContext: { environmentVariables: { OUT_DIR: outDir, CREATE_DELAY_MS: '60000' } },
  };
  const record = await store.createDeployment(ref, {
    operation: 'update',
    settings,
    inheritSettings: false,
    initiator: 'test',
    requestedBy: 'test',
    steps: stepNames(settings),
  });
  const input: DeploymentInput = { ...ref, id: record.id, version: record.version, operation: 'update', settings };
  const step = stepNames(settings).indexOf(STEP.pulumi);

  // What getSource and installDependencies would have left: the program, with its dependencies.
  const programDir = join(workspaceDir(deps, input.id), 'source');
  mkdirSync(programDir, { recursive: true });
  cpSync(join(__dirname, 'fixtures', 'program'), programDir, { recursive: true });
  symlinkSync(resolve(__dirname, '..', 'node_modules'), join(programDir, 'node_modules'), 'dir');
  giveToSandbox(workspaceDir(deps, input.id));

  const activities = createWorkspaceActivities(deps);
  const env = new MockActivityEnvironment({ activityType: 'pulumiOperation' }, { logger: new DefaultLogger('ERROR') });
  const logs = async () => (await store.readLogs(input.id, step, 0, 10_000)).map((l) => l.line).join('');

  const t0 = Date.now();
  const run = env.run(activities.pulumiOperation, input, step);
  const outcome = run.then(
    () => 'resolved',
    (err: unknown) => err,
  );

  // Wait for Pulumi to be inside the provider's create (it sleeps for a minute there).
  const deadline = Date.now() + 120_000;
  while (!/hello\s+creating/.test(await logs())) {
    const early = await Promise.race([outcome, sleep(200).then(() => undefined)]);
    if (early !== undefined) throw new Error(`pulumi ended before the resource was being created: ${String(early)}\n${await logs()}`);
    if (Date.now() > deadline) throw new Error(`the resource never started being created:\n${await logs()}`);
  }
  const tCreating = Date.now();
  expect(processesIn(programDir).length).toBeGreaterThan(0);

  env.cancel();
  const err = await outcome;
  const tRejected = Date.now();
  expect(err).toBeInstanceOf(CancelledFailure);

  // Nothing of the operation is left running in the program directory (zombies have no cwd).
  let left = processesIn(programDir);
  while (left.length > 0 && Date.now() - tRejected < KILL_GRACE_MS + 3000) {
    await sleep(100);
    left = processesIn(programDir);
  }
  const tClean = Date.now();
  expect(left.map((pid) => ({ pid, cwd: cwdOf(pid) }))).toEqual([]);

  const d = await store.getDeploymentById(input.id);
  expect(d?.steps[step]).toMatchObject({ name: STEP.pulumi, status: 'failed' });
  const log = await logs();
  expect(log).toContain(`Cancellation requested: stopping pulumi (force stop in ${KILL_GRACE_MS / 1000} s).`);
  expect(log).toMatch(/Cancelled\.\n$/);
  // The resource was never finished.
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(false);

  // Pulumi was killed inside the create: its lock and the pending create stay behind until recovery.
  const lockDir = join(stackStateDir(deps.dataDir, ref), '.pulumi', 'locks');
  const lockFiles = () => (existsSync(lockDir) ? readdirSync(lockDir, { recursive: true }).map(String).filter((f) => f.endsWith('.json')) : []);
  console.log(
    [
      `pulumi up until "creating": ${tCreating - t0} ms; cancel → rejected: ${tRejected - tCreating} ms; rejected → no processes: ${tClean - tRejected} ms`,
      `stack lock files left: ${lockFiles().join(', ') || 'none'}`,
    ].join('\n'),
  );
  expect(lockFiles()).toHaveLength(1);

  const recover = new MockActivityEnvironment({ activityType: 'recoverStack' }, { logger: new DefaultLogger('ERROR') });
  const summary = await recover.run(createSharedActivities(deps).recoverStack, input, 'cancelled');
  expect(summary).toBe('The stack was recovered: its stale lock was removed and 1 pending operation(s) were cleared.');
  expect(lockFiles()).toEqual([]);
  const after = await store.getDeploymentById(input.id);
  const recoverStep = after!.steps.findIndex((s) => s.name === STEP.recover);
  expect(after!.steps[recoverStep].status).toBe('succeeded');
  const recoverLog = (await store.readLogs(input.id, recoverStep, 0, 1000)).map((l) => l.line).join('');
  expect(recoverLog).toContain('Recovering the stack: cancelled.');
  expect(recoverLog).toMatch(/The lock is held by pid \d+ on \S+\.sandbox \(in a sandbox on this host\) since .*, which is no longer running\./);
  expect(recoverLog).toMatch(/Pending creating: urn:pulumi:dev::website::.*hello/);
  expect(recoverLog).toContain('Cleared 1 pending operation(s).');
  expect(existsSync(workspaceDir(deps, input.id))).toBe(false);
});

test('a Pulumi operation whose engine reports nothing for the idle timeout is stopped and classified as interrupted', async () => {
  const ref = { org: `i${Date.now().toString(36)}`, project: 'website', stack: 'dev' };
  const settings: DeploymentSettings = {
    operationContext: { environmentVariables: { OUT_DIR: join(OUT, 'idle'), CREATE_DELAY_MS: '300000' } },
  };
  const record = await store.createDeployment(ref, { operation: 'update', settings, inheritSettings: false, initiator: 'test', requestedBy: 'test', steps: stepNames(settings) });
  const input: DeploymentInput = { ...ref, id: record.id, version: record.version, operation: 'update', settings };
  const programDir = join(workspaceDir(deps, input.id), 'source');
  mkdirSync(programDir, { recursive: true });
  cpSync(join(__dirname, 'fixtures', 'program'), programDir, { recursive: true });
  symlinkSync(resolve(__dirname, '..', 'node_modules'), join(programDir, 'node_modules'), 'dir');
  giveToSandbox(workspaceDir(deps, input.id));
  const step = stepNames(settings).indexOf(STEP.pulumi);

  // Long enough for the program to start on a loaded machine (its TypeScript compile reports nothing).
  const activities = createWorkspaceActivities({ ...deps, pulumiIdleTimeoutMs: 100_000 });
  const env = new MockActivityEnvironment({ activityType: 'pulumiOperation' }, { logger: new DefaultLogger('ERROR') });
  const err = await env.run(activities.pulumiOperation, input, step).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: 'PulumiInterrupted', message: 'Pulumi was stopped: it reported no engine event for 100 s.', nonRetryable: true });
  const log = (await store.readLogs(input.id, step, 0, 10_000)).map((l) => l.line).join('');
  expect(log).toMatch(/hello\s+creating/);
  expect(log).toContain('Stopping pulumi: it reported no engine event for 100 s.');
  expect(processesIn(programDir)).toEqual([]);
});
