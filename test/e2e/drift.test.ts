import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProgramRepo } from '../helpers/repo';
import { readAllLogs, startStackwright, waitForDeployment, type Stackwright, newOutDir } from '../helpers/stackwright';

// Real API, Temporal, git and pulumi: the program's file is changed behind Pulumi's back, then
// drift is detected and remediated through the API.
const org = `drift${Date.now().toString(36)}`;
const stack = `/api/stacks/${org}/website/dev`;

let sw: Stackwright;
let file: string;

beforeAll(async () => {
  sw = await startStackwright();
  const repo = createProgramRepo('website');
  const outDir = newOutDir();
  file = join(outDir, 'hello.txt');
  const res = await sw.api(`${stack}/deployments/settings`, {
    method: 'POST',
    body: { sourceContext: { git: { repoURL: repo.url, branch: 'refs/heads/main' } }, operationContext: { environmentVariables: { OUT_DIR: outDir } } },
  });
  expect(res.status).toBe(200);
});
afterAll(async () => sw?.stop());

/** Runs an operation to its end; returns the deployment as the API shows it. */
async function run(operation: string, extra: object = {}) {
  const res = await sw.api(`${stack}/deployments`, { method: 'POST', body: { operation, ...extra } });
  expect(res.status).toBe(202);
  const d = await waitForDeployment(sw, stack, res.body.id);
  expect([operation, d.status, d.message]).toEqual([operation, 'succeeded', undefined]);
  return d;
}

const logText = async (id: string) => (await readAllLogs(sw, stack, id)).map((l) => l.line ?? '').join('');
const driftRuns = async () => (await sw.api(`${stack}/drift/runs`)).body;
const driftStatus = async () => (await sw.api(`${stack}/drift/status`)).body;

test('a changed file is detected as drift, remediated, and then no longer drifts', async () => {
  await run('update');
  expect(readFileSync(file, 'utf8')).toBe('hello from dev');
  writeFileSync(file, 'changed by hand');

  // Detection is a preview: it reports the drift and changes nothing. Finding drift is not a failure.
  const detect = await run('detect-drift');
  expect(readFileSync(file, 'utf8')).toBe('changed by hand');
  const detectLog = await logText(detect.id);
  expect(detectLog).toContain('$ pulumi refresh --preview-only --stack dev');
  expect(detectLog).toContain('Drift detected: 1 to update.');
  expect(await sw.store.getDeploymentById(detect.id)).toMatchObject({ driftDetected: true, resourceChanges: { same: 1, update: 1 } });
  expect(await driftStatus()).toEqual({ driftDetected: true, latestDriftRun: detect.id, runInProgress: false });
  const afterDetect = await driftRuns();
  expect(afterDetect).toMatchObject({ total: 1, itemsPerPage: 10 });
  expect(afterDetect.driftRuns[0]).toEqual({
    id: detect.id,
    driftDetected: true,
    created: detect.created,
    status: 'succeeded',
    deploymentId: detect.id,
    deploymentVersion: detect.version,
    detectUpdate: { updateId: detect.id, resourceChanges: { same: 1, update: 1 }, modified: expect.any(String), status: 'succeeded' },
  });

  const remediate = await run('remediate-drift');
  expect(readFileSync(file, 'utf8')).toBe('hello from dev');
  expect(await logText(remediate.id)).toContain('$ pulumi up --refresh --stack dev');
  expect((await driftStatus()).driftDetected).toBe(false);

  const clean = await run('detect-drift');
  expect(await logText(clean.id)).toContain('No drift detected.');
  expect(await driftStatus()).toEqual({ driftDetected: false, latestDriftRun: clean.id, runInProgress: false });
  const runs = await driftRuns();
  expect(runs.total).toBe(3);
  expect(runs.driftRuns.map((r: any) => [r.deploymentVersion, r.driftDetected, r.detectUpdate?.resourceChanges, r.remediateUpdate?.resourceChanges])).toEqual([
    [clean.version, false, { same: 2 }, undefined],
    [remediate.version, true, undefined, { same: 1, update: 1 }],
    [detect.version, true, { same: 1, update: 1 }, undefined],
  ]);
}, 600_000);

test('remediateIfDriftDetected queues a remediation that recreates a deleted file', async () => {
  rmSync(file);
  const detect = await run('detect-drift', { operationContext: { options: { remediateIfDriftDetected: true } } });
  expect(await sw.store.getDeploymentById(detect.id)).toMatchObject({ driftDetected: true, resourceChanges: { delete: 1 } });

  // The remediation runs after the detection, as the next deployment in the stack's queue.
  const [run0] = (await driftRuns()).driftRuns;
  expect(run0).toMatchObject({ id: detect.id, driftDetected: true, remediateUpdate: { updateId: expect.any(String) } });
  const remediation = await waitForDeployment(sw, stack, run0.remediateUpdate.updateId);
  expect([remediation.pulumiOperation, remediation.version, remediation.status]).toEqual(['remediate-drift', detect.version + 1, 'succeeded']);
  expect(existsSync(file) && readFileSync(file, 'utf8')).toBe('hello from dev');
  expect(await logText(detect.id)).toContain('remediateIfDriftDetected: a remediate-drift deployment is queued to run next.');

  const [linked] = (await driftRuns()).driftRuns;
  expect(linked.remediateUpdate).toEqual({ updateId: remediation.id, resourceChanges: { create: 1, same: 1 }, modified: expect.any(String), status: 'succeeded' });
  expect(await driftStatus()).toEqual({ driftDetected: false, latestDriftRun: detect.id, runInProgress: false });
}, 400_000);
