import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { bundleWorkflows, quietRuntime } from './helpers/time-skipping';
import { writeHistory } from './helpers/histories';
import { resolveTools } from '../src/tools';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { PoolStoreRequest } from '../src/shared/pool-store';
import { poolGatewayActivities } from '../src/activities/pool-gateway';
import { byteBatches, PoolGatewayClient } from '../src/activities/pool-gateway-client';
import { poolStoreUpdate } from '../src/workflows/pool-gateway-definitions';
import { stepNames, type DeploymentInput } from '../src/shared/deployment';
import type { DeploymentSettings } from '../src/shared/settings';

// The runner pool's way to the store: what it may ask (allow-list, validation, scope) and the
// gateway workflow that carries it (updates, continue-as-new, a restart after it ended).

let tmp: string;
let store: Store;

beforeAll(async () => {
  quietRuntime();
  tmp = mkdtempSync(join(tmpdir(), 'stackwright-pool-gateway-'));
  store = new Store(await openDatabase(join(tmp, 'stackwright.db')));
});
afterAll(async () => {
  await store?.db.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function deployment(pool: string | undefined, stack = `s-${randomUUID().slice(0, 8)}`): Promise<DeploymentInput> {
  const ref = { org: 'acme', project: 'website', stack };
  const settings: DeploymentSettings = { ...(pool ? { agentPoolID: pool } : {}), operationContext: { environmentVariables: { A: 'b' } } };
  const r = await store.createDeployment(ref, { operation: 'update', settings, inheritSettings: false, initiator: 'test', requestedBy: 'test', steps: stepNames(settings) });
  return { ...ref, id: r.id, version: r.version, operation: 'update' };
}

describe('the request schema', () => {
  test.each([
    [{ op: 'dropTables', pool: 'edge', deploymentId: 'd' }, 'op'],
    [{ op: 'setStep', pool: 'edge', deploymentId: 'd', step: 1, status: 'skipped' }, 'status'],
    [{ op: 'setStep', pool: 'edge', deploymentId: 'd', step: -1, status: 'running' }, 'step'],
    [{ op: 'appendLogs', pool: 'edge', deploymentId: 'd', step: 0, lines: [{ seq: 0, ts: 'x' }] }, 'lines'],
    [{ op: 'sealedSettings', pool: 'no pool!', deploymentId: 'd' }, 'pool'],
    [{ op: 'sealedSettings', pool: 'edge' }, 'deploymentId'],
    [{ op: 'passphraseScheme', pool: 'edge', deploymentId: 'd', of: 'other' }, 'of'],
  ])('refuses %j (field %s)', (req, field) => {
    const r = PoolStoreRequest.safeParse(req);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path[0])).toContain(field);
  });

  test('accepts each listed operation', () => {
    for (const req of [
      { op: 'workerStarted', pool: 'edge' },
      { op: 'setStep', pool: 'edge', deploymentId: 'd', step: 2, status: 'succeeded' },
      { op: 'appendLogs', pool: 'edge', deploymentId: 'd', step: 0, lines: [{ seq: 0, ts: new Date().toISOString(), line: 'x\n' }] },
      { op: 'recordChanges', pool: 'edge', deploymentId: 'd', changes: { create: 2 }, driftDetected: null },
    ]) expect(PoolStoreRequest.safeParse(req).success).toBe(true);
  });
});

describe('the store side (poolStoreOperation)', () => {
  const op = (pool: string, req: unknown) => poolGatewayActivities({ store }).poolStoreOperation(pool, req);
  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    return (err as ApplicationFailure).message;
  };

  test("works on the pool's own deployments: steps, logs, changes, settings", async () => {
    const d = await deployment('edge');
    const of = { pool: 'edge', deploymentId: d.id };
    await op('edge', { op: 'setStep', ...of, step: 1, status: 'running' });
    await op('edge', { op: 'appendLogs', ...of, step: 1, lines: [{ seq: 0, ts: new Date().toISOString(), line: 'one\n' }, { seq: 1, ts: new Date().toISOString(), line: 'two\n' }] });
    expect(await op('edge', { op: 'countLogs', ...of, step: 1 })).toBe(2);
    await op('edge', { op: 'recordChanges', ...of, changes: { create: 1 }, driftDetected: null });
    const record = await store.getDeploymentById(d.id);
    expect(record!.steps[1].status).toBe('running');
    expect(record!.resourceChanges).toEqual({ create: 1 });
    expect(((await store.readLogs(d.id, 1, 0, 10)) as { line: string }[]).map((l) => l.line)).toEqual(['one\n', 'two\n']);
    expect(await op('edge', { op: 'sealedSettings', ...of })).toMatchObject({ agentPoolID: 'edge' });
    expect(await op('edge', { op: 'passphraseScheme', ...of, of: 'stack' })).toBe('derived');
    expect(await op('edge', { op: 'cacheGeneration', ...of })).toBe(0);
    expect(await op('edge', { op: 'reviewTemplate', ...of })).toBeNull();
    expect(await op('edge', { op: 'deploymentState', ...of })).toEqual({ status: 'not-started', workflowId: `deployment/acme/website/${d.stack}/${d.version}` });
  });

  test("refuses another pool's deployment, a deployment of no pool, a request naming another pool, an unknown one", async () => {
    const other = await deployment('other');
    const none = await deployment(undefined);
    expect(await refusal(op('edge', { op: 'sealedSettings', pool: 'edge', deploymentId: other.id }))).toContain('does not run in pool edge');
    expect(await refusal(op('edge', { op: 'setStep', pool: 'edge', deploymentId: none.id, step: 0, status: 'failed' }))).toContain('does not run in pool edge');
    expect(await refusal(op('edge', { op: 'sealedSettings', pool: 'edge', deploymentId: 'no-such-id' }))).toContain('does not run in pool edge');
    expect(await refusal(op('edge', { op: 'sealedSettings', pool: 'other', deploymentId: other.id }))).toContain('reached the gateway of pool edge');
    expect(await refusal(op('edge', { op: 'deleteEverything', pool: 'edge', deploymentId: other.id }))).toContain('invalid store request');
    // Nothing was written for the refused ones.
    expect((await store.getDeploymentById(none.id))!.steps[0].status).toBe('not-started');
  });

  test('a worker start is recorded for the pool', async () => {
    await op('gw-start', { op: 'workerStarted', pool: 'gw-start' });
    const { listRunnerPools } = await import('../src/store/runner-pools');
    expect((await listRunnerPools(store.db)).map((p) => p.name)).toContain('gw-start');
  });
});

test('log lines are split into updates below the payload bound', () => {
  const line = (n: number, size: number) => ({ seq: n, ts: 't', line: 'x'.repeat(size) });
  const batches = byteBatches([line(0, 100), line(1, 100), line(2, 1000), line(3, 10)], 400);
  expect(batches.map((b) => b.map((l) => l.seq))).toEqual([[0, 1], [2], [3]]);
  expect(byteBatches([], 400)).toEqual([]);
});

describe('the gateway workflow', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: resolveTools().temporalCli } } });
  });
  afterAll(async () => env?.teardown());

  test('answers updates through the shared activity, refuses bad ones before the activity, continues as new and restarts', async () => {
    const taskQueue = `gw-${randomUUID()}`;
    const seen: unknown[] = [];
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await bundleWorkflows(),
      activities: {
        async poolStoreOperation(pool: string, req: { op: string; step?: number }) {
          seen.push(req);
          return req.op === 'countLogs' ? (req.step ?? 0) * 10 : { pool, op: req.op };
        },
      },
    });
    await worker.runUntil(async () => {
      const gateway = new PoolGatewayClient(env.client, taskQueue, 'edge', `w-${randomUUID().slice(0, 6)}`);
      expect(await gateway.countLogs('d1', 4)).toBe(40);
      await gateway.setStep('d1', 0, 'running');

      // The validator refuses before the activity runs (and before the history holds it).
      const bad = await env.client.workflow
        .getHandle(gateway.workflowId)
        .executeUpdate(poolStoreUpdate, { args: [{ op: 'dropTables', pool: 'edge' } as never] })
        .then(() => undefined, (e: unknown) => e);
      expect(bad).toBeInstanceOf(WorkflowUpdateFailedError);
      const otherPool = await env.client.workflow
        .getHandle(gateway.workflowId)
        .executeUpdate(poolStoreUpdate, { args: [{ op: 'workerStarted', pool: 'other' }] })
        .then(() => undefined, (e: unknown) => e);
      expect(otherPool).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(seen).toHaveLength(2);
      if (process.env.RECORD_HISTORIES === '1') await writeHistory(env.client, join(__dirname, 'histories'), 'pool-gateway', gateway.workflowId);

      // A small history bound: the gateway continues as new, and the client's requests keep being answered.
      const small = new PoolGatewayClient(env.client, taskQueue, 'edge', `w-${randomUUID().slice(0, 6)}`);
      const first = await env.client.workflow.start('poolGateway', { workflowId: small.workflowId, taskQueue, args: [{ pool: 'edge', maxHistory: 20 }] });
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => small.countLogs('d2', i)));
      expect(answers).toEqual(Array.from({ length: 12 }, (_, i) => i * 10));
      for (let i = 0; i < 6; i++) expect(await small.countLogs('d2', i)).toBe(i * 10);
      expect((await env.client.workflow.getHandle(small.workflowId).describe()).runId).not.toBe(first.firstExecutionRunId);
      if (process.env.RECORD_HISTORIES === '1') await writeHistory(env.client, join(__dirname, 'histories'), 'pool-gateway-continued', small.workflowId, first.firstExecutionRunId);

      // Ended (an idle gateway does): the next request starts it again.
      await env.client.workflow.getHandle(gateway.workflowId).terminate('test');
      expect(await gateway.countLogs('d1', 7)).toBe(70);
    });
  });
});
