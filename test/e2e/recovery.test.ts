import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createProgramRepo } from '../helpers/repo';
import { readAllLogs, startStackwright, startWorkerProcess, waitForDeployment, type Stackwright, newOutDir } from '../helpers/stackwright';
import { exportStack, lockFiles, waitForLog } from '../helpers/pulumi-state';

// A worker killed with SIGKILL in the middle of `pulumi up`: the worker restarted on its data dir must recover the stack.
const org = `r${Date.now().toString(36)}`;
const stackPath = `/api/stacks/${org}/website/dev`;

let sw: Stackwright;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  sw = await startStackwright({}, { worker: false });
}, 600_000);
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGTERM');
  await sw?.stop();
}, 600_000);

test('after the worker dies mid-update, its restart ends the lost step, unlocks the stack, clears pending operations and fails the deployment', async () => {
  const repo = createProgramRepo('website');
  const outDir = newOutDir();
  await sw.api(`${stackPath}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoUrl: repo.url, branch: 'main' } },
      operationContext: { environmentVariables: { OUT_DIR: outDir, GREETING: 'recovered', CREATE_DELAY_MS: '600000' } },
    },
  });
  const first = startWorkerProcess(sw);
  workers.push(first);
  const { body } = await sw.api(`${stackPath}/deployments`, { method: 'POST', body: { operation: 'update' } });
  await waitForLog(sw, stackPath, body.id, /hello\s+creating/);
  expect(lockFiles(sw, org)).toHaveLength(1);

  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  workers.push(startWorkerProcess(sw));

  // The new worker polls the same workspace queue: it kills the old run's processes and fails its
  // step at once (no wait for the heartbeat timeout); recovery then runs.
  const d = await waitForDeployment(sw, stackPath, body.id, 300_000);
  expect(d).toMatchObject({
    status: 'failed',
    message: 'Pulumi was stopped: its worker stopped while the operation ran. The stack was recovered: its stale lock was removed and 1 pending operation(s) were cleared.',
  });
  const log = (await readAllLogs(sw, stackPath, body.id)).map((l) => l.line ?? `# ${l.header}\n`).join('');
  expect(log).toContain('Recovering the stack: Pulumi was stopped: its worker stopped while the operation ran.');
  // Pulumi is its sandbox's pid 1: once it ends (its output pipe to the lost worker broken) the kernel ends
  // everything in the sandbox, so usually nothing of the run is left for recovery to stop.
  expect(log).toMatch(/Stopped \d+ process\(es\) of the interrupted run still running on this host|No process of the interrupted run is left on this host/);
  expect(log).toMatch(/Pending creating: urn:pulumi:dev::website::.*hello/);
  expect(log).toContain('Cleared 1 pending operation(s).');
  expect(lockFiles(sw, org)).toEqual([]);
  expect(exportStack(sw, org, 'website', 'dev').deployment.pending_operations ?? []).toEqual([]);
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(false);

  // The stack works again, on the new worker.
  const next = await sw.api(`${stackPath}/deployments`, {
    method: 'POST',
    body: { operation: 'update', operationContext: { environmentVariables: { CREATE_DELAY_MS: '0' } } },
  });
  expect(await waitForDeployment(sw, stackPath, next.body.id)).toMatchObject({ status: 'succeeded' });
  expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('recovered from dev');
}, 600_000);
