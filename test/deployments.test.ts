import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { canMove, movesTo } from '../src/deployments/status';
import { advance, finish, skipQueued } from '../src/deployments/transitions';
import { recordDeployment, recordRemediation, type NewDeploymentRequest } from '../src/deployments/create';
import { IdempotencyConflict, requestHash } from '../src/deployments/idempotency';
import { QueueUnavailable, requestDeployment } from '../src/deployments/queue';
import type { DeploymentInput } from '../src/shared/deployment';

// The domain layer over a real (SQLite) store; Temporal is a stand-in where queueing is involved.
let store: Store;
const ref = { org: 'acme', project: 'website', stack: 'dev' };
const req: NewDeploymentRequest = { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't' };
const log = { error() {} };

beforeAll(async () => {
  store = new Store(await openDatabase(join(mkdtempSync(join(tmpdir(), 'stackwright-domain-')), 'db.sqlite')));
});
afterAll(async () => store?.db.destroy());

describe('status transitions', () => {
  test('only move forward, and never out of a final status', () => {
    expect(movesTo('running')).toEqual(['not-started', 'accepted', 'waiting-for-approval']);
    expect(movesTo('failed')).toEqual(['not-started', 'accepted', 'running', 'waiting-for-approval']);
    // requireApproval: only a running deployment starts waiting, and an approved one runs again.
    expect(movesTo('waiting-for-approval')).toEqual(['running']);
    expect(canMove('running', 'not-started')).toBe(false);
    for (const end of ['failed', 'succeeded', 'skipped'] as const) {
      expect(movesTo(end)).not.toContain(end);
      expect(['running', 'failed', 'succeeded', 'skipped'].some((to) => canMove(end, to as never))).toBe(false);
    }
  });

  test('a late write after the outcome is ignored; a skip never takes a started deployment', async () => {
    const { record } = await recordDeployment(store, ref, req);
    expect(await advance(store, record.id, 'running')).toBe(true);
    // A retried claim (its first answer was lost) still lets the workflow run.
    expect(await advance(store, record.id, 'running')).toBe(true);
    expect(await skipQueued(store, record.id, 'Cancelled before it started.')).toBe(false);
    expect(await finish(store, record.id, 'succeeded')).toBe(true);
    expect(await finish(store, record.id, 'failed', 'late')).toBe(false);
    expect(await advance(store, record.id, 'running')).toBe(false);
    expect(await store.getDeploymentById(record.id)).toMatchObject({ status: 'succeeded', message: null });
    await expect(finish(store, record.id, 'running')).rejects.toThrow("'running' is not a final status");
  });
});

describe('idempotent requests', () => {
  const key = (k: string, body: unknown) => ({ key: k, requestHash: requestHash(body, (t) => t) });

  test('the same key and request get the same deployment, even at once; another request with it is a conflict', async () => {
    const stack = { ...ref, stack: 'idem' };
    const made = await Promise.all(Array.from({ length: 5 }, () => recordDeployment(store, stack, req, key('k1', { operation: 'update', a: 1, b: 2 }))));
    expect(new Set(made.map((m) => m.record.id)).size).toBe(1);
    expect(made.filter((m) => !m.replayed)).toHaveLength(1);
    // Key order does not make a request different.
    expect((await recordDeployment(store, stack, req, key('k1', { b: 2, a: 1, operation: 'update' }))).replayed).toBe(true);
    const conflict = recordDeployment(store, stack, req, key('k1', { operation: 'destroy' }));
    await expect(conflict).rejects.toThrow(IdempotencyConflict);
    await expect(conflict).rejects.toThrow(`Idempotency-Key 'k1' was already used for a different request on this stack (deployment ${made[0].record.id})`);
    expect((await store.listDeployments(stack, { page: 1, pageSize: 10, asc: true })).total).toBe(1);
  });
});

describe('queueing', () => {
  const temporal = (signal: (options: any) => Promise<unknown>) => ({ workflow: { signalWithStart: (_t: unknown, o: unknown) => signal(o) } }) as unknown as Client;

  test('when the queue cannot be reached nothing will run, and the key can be used again', async () => {
    const stack = { ...ref, stack: 'down' };
    const down = temporal(async () => {
      throw new Error('connection refused');
    });
    const idem = { key: 'k-down', requestHash: 'h' };
    await expect(requestDeployment({ store, temporal: down, taskQueue: 'q', log }, stack, req, idem)).rejects.toThrow(QueueUnavailable);
    const [failed] = (await store.listDeployments(stack, { page: 1, pageSize: 10, asc: true })).deployments;
    expect(failed).toMatchObject({ status: 'failed', message: 'Not run: Temporal could not be reached to queue the deployment.' });
    // Should the signal have arrived after all, the workflow's claim fails: it runs nothing.
    expect(await advance(store, failed.id, 'running')).toBe(false);

    const sent: any[] = [];
    const up = temporal(async (o) => sent.push(o));
    const retried = await requestDeployment({ store, temporal: up, taskQueue: 'q', log }, stack, req, idem);
    expect(retried).toMatchObject({ version: 2, replayed: false });
    expect(sent.map((o) => [o.workflowId, o.signalArgs[0].id])).toEqual([['stack/acme/website/down', retried.id]]);
    // Sent again: the same deployment, queued again while it has not started (the queue ignores a duplicate).
    expect(await requestDeployment({ store, temporal: up, taskQueue: 'q', log }, stack, req, idem)).toEqual({ ...retried, replayed: true });
    expect(sent).toHaveLength(2);
    await advance(store, retried.id, 'running');
    await requestDeployment({ store, temporal: up, taskQueue: 'q', log }, stack, req, idem);
    expect(sent).toHaveLength(2);
  });

  test('a signal that fails after its queue already started the deployment answers with the deployment', async () => {
    const stack = { ...ref, stack: 'late' };
    const raced = temporal(async (o) => {
      await advance(store, o.signalArgs[0].id, 'running'); // the queue took it before the client gave up
      throw new Error('deadline exceeded');
    });
    const r = await requestDeployment({ store, temporal: raced, taskQueue: 'q', log }, stack, req);
    expect(await store.getDeploymentById(r.id)).toMatchObject({ status: 'running' });
  });
});

describe('drift remediation', () => {
  test('is recorded once per detection and linked to it', async () => {
    const stack = { ...ref, stack: 'drift' };
    const { record } = await recordDeployment(store, stack, { ...req, operation: 'detect-drift', initiator: 'schedule', requestedBy: 'cron' });
    const detection: DeploymentInput = { ...stack, id: record.id, version: record.version, operation: 'detect-drift', settings: {} };
    const first = await recordRemediation(store, detection);
    // A retried activity finds the one it recorded.
    expect(await recordRemediation(store, detection)).toEqual({ ...first, requestedAt: expect.any(Number) });
    expect(first).toMatchObject({ operation: 'remediate-drift', version: 2 });
    expect(await store.getDeploymentById(first.id)).toMatchObject({ initiator: 'schedule', requestedBy: 'cron', status: 'not-started' });
    expect((await store.getDeploymentById(detection.id))!.driftRemediationId).toBe(first.id);
  });
});
