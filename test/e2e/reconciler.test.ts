import { startStackwright, type Stackwright } from '../helpers/stackwright';
import { followLogs, linesOf } from '../helpers/sse';
import { createLogger } from '../../src/logger';
import { deploymentWorkflowId } from '../../src/shared/ids';
import type { DeploymentInput } from '../../src/shared/deployment';
import { advance } from '../../src/deployments/transitions';
import { QUEUE_GRACE_MS, reconcile, startReconciler } from '../../src/deployments/reconciler';

// Real API and Temporal, no worker: a deployment's workflow is terminated as from the Temporal UI,
// and only the reconciler can notice that it will never record an outcome.
const org = `reconcile${Date.now().toString(36)}`;
const ref = { org, project: 'website', stack: 'dev' };
const path = `/api/stacks/${org}/website/dev`;

let sw: Stackwright;
const log = createLogger('silent');

beforeAll(async () => {
  sw = await startStackwright({}, { worker: false });
});
afterAll(async () => sw?.stop());

const newDeployment = (stack = ref) =>
  sw.store.createDeployment(stack, { operation: 'update', settings: {}, inheritSettings: false, initiator: 'api', requestedBy: 't', steps: ['Get source', 'Pulumi operation'] });

test('a terminated deployment workflow gets its record failed with the reason, and its log stream ends', async () => {
  const d = await newDeployment();
  // What the workflow had done before it was terminated: claimed the deployment and started a step.
  expect(await advance(sw.store, d.id, 'running')).toBe(true);
  await sw.store.setStep(d.id, 0, 'running');
  await sw.store.appendLogs(d.id, 0, [{ seq: 0, ts: new Date().toISOString(), line: 'Cloning\n' }]);
  const input: DeploymentInput = { ...ref, id: d.id, version: d.version, operation: 'update', settings: {} };
  const handle = await sw.temporal.workflow.start('deployment', {
    workflowId: deploymentWorkflowId(ref, d.version),
    taskQueue: sw.config.STACKWRIGHT_TASK_QUEUE,
    args: [input],
  });

  const stream = await followLogs(`${sw.url}${path}/deployments/${d.id}/logs`, sw.token);
  // While its workflow runs, the deployment is left alone.
  expect(await reconcile({ store: sw.store, temporal: sw.temporal, log })).toEqual([]);
  expect((await sw.store.getDeploymentById(d.id))!.status).toBe('running');

  await handle.terminate('stuck, terminated from the UI');
  const reconciler = startReconciler({ store: sw.store, temporal: sw.temporal, log }, 200);
  try {
    const events = await stream.readUntil((e) => e.event === 'end');
    const message = "Failed: the deployment's workflow was terminated (stuck, terminated from the UI) before it recorded an outcome.";
    expect(JSON.parse(events.at(-1)!.data!)).toEqual({ status: 'failed', message });
    expect(linesOf(events).map((l) => l.header ?? l.line)).toEqual(['Get source', 'Cloning\n']);
    expect(await stream.next()).toBeUndefined(); // the server closed it
    const after = (await sw.api(`${path}/deployments/${d.id}`)).body;
    expect([after.status, after.message, after.jobs[0].steps.map((s: any) => s.status)]).toEqual(['failed', message, ['failed', 'not-started']]);
  } finally {
    await reconciler.stop();
    await stream.close();
  }

  // A late write from the workflow's activities changes nothing.
  expect(await advance(sw.store, d.id, 'succeeded')).toBe(false);
  await sw.store.setStep(d.id, 1, 'running');
  expect((await sw.store.getDeploymentById(d.id))!).toMatchObject({ status: 'failed', steps: [{ status: 'failed' }, { status: 'skipped' }] });
});

test('a queued deployment whose stack queue is gone is failed once the grace period is over', async () => {
  const stack = { ...ref, stack: 'orphan' };
  const d = await newDeployment(stack);
  const deps = { store: sw.store, temporal: sw.temporal, log };
  // Just recorded: the API may still be signalling the queue.
  expect(await reconcile(deps)).not.toContain(d.id);
  expect(await reconcile(deps, Date.now() + QUEUE_GRACE_MS + 1000)).toContain(d.id);
  expect(await sw.store.getDeploymentById(d.id)).toMatchObject({
    status: 'failed',
    message: "Not run: its stack's queue workflow does not exist, so nothing will start it.",
  });
});
