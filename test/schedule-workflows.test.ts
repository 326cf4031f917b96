import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows, createTimeSkipping, quietRuntime } from './helpers/time-skipping';
import type { SharedActivities } from '../src/activities';
import type { DeploymentStatus } from '../src/shared/deployment';
import type { StackRef } from '../src/shared/names';
import { ttlWorkflowId } from '../src/deployments/schedules';
import { scheduledDeployment, ttlStack } from '../src/workflows';
import { ttlStateQuery, ttlUpdateSignal, type FiringCheck, type TtlEvent, type TtlTerms } from '../src/workflows/schedule-definitions';
import { writeHistory } from './helpers/histories';

// TTL stacks and schedule firings on the time-skipping test server, with mocked activities: days pass in seconds.
// RECORD_HISTORIES=1 writes their histories to test/histories/, which the replay test in workflows.test.ts checks.

const HISTORIES = join(__dirname, 'histories');
const RECORD = process.env.RECORD_HISTORIES === '1';
const DAY = 86_400_000;
const HOUR = 3_600_000;

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  quietRuntime();
  [env, workflowBundle] = await Promise.all([
    createTimeSkipping(),
    bundleWorkflows(),
  ]);
});
afterAll(async () => env?.teardown());

const newStack = (): StackRef => ({ org: 'acme', project: 'website', stack: `ttl-${randomUUID().slice(0, 8)}` });

/** Mocked TTL activities; `destroys` gives the final status of each queued destroy, in order. */
function ttlHarness(destroys: DeploymentStatus[]) {
  const taskQueue = `ttl-${randomUUID()}`;
  const queued: { executed: number; deploymentId: string }[] = [];
  const warnings: { leadMs: number; deadline: string; at: number }[] = [];
  const failures: TtlEvent[] = [];
  const removed: { organization: string; project: string; stack: string; afterQueued: number }[] = [];
  const activities: Partial<SharedActivities> = {
    queueScheduledDeployment: async (f) => {
      queued.push({ executed: Date.parse(f.executed), deploymentId: `d${queued.length + 1}` });
      return { deploymentId: `d${queued.length}`, version: queued.length };
    },
    deploymentStatus: async (id) => destroys[Number(id.slice(1)) - 1],
    recordTtlWarning: async (e) => void warnings.push({ leadMs: e.leadMs!, deadline: e.deadline, at: await env.currentTimeMs() }),
    reportTtlDestroyFailure: async (e) => void failures.push(e),
    removeStack: async (r) => {
      removed.push({ ...r, afterQueued: queued.length });
      return 'removed';
    },
  };
  return {
    taskQueue,
    queued,
    warnings,
    failures,
    removed,
    run: async <T>(fn: () => Promise<T>): Promise<T> => {
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities });
      return worker.runUntil(fn);
    },
  };
}

async function startTtl(h: ReturnType<typeof ttlHarness>, stack: StackRef, terms: TtlTerms, warningLeadsMs = [24 * HOUR, HOUR]) {
  return env.client.workflow.start(ttlStack, {
    taskQueue: h.taskQueue,
    workflowId: ttlWorkflowId(stack),
    args: [{ ...stack, scheduleId: randomUUID(), terms, warningLeadsMs }],
  });
}

describe('ttlStack', () => {
  test('a 30-day TTL warns 24 h and 1 h before, destroys at the deadline, and with deleteAfterDestroy removes the stack after the destroy succeeded', async () => {
    const h = ttlHarness(['succeeded']);
    const stack = newStack();
    const start = await env.currentTimeMs();
    const deadline = new Date(start + 30 * DAY).toISOString();
    const result = await h.run(async () => {
      const handle = await startTtl(h, stack, { deadline, deleteAfterDestroy: true, paused: false });
      await env.sleep(29 * DAY);
      expect(h.queued).toEqual([]);
      expect((await handle.query(ttlStateQuery)).phase).toBe('waiting');
      const r = await handle.result();
      if (RECORD) await writeHistory(env.client, HISTORIES, 'ttl-stack-removed', handle.workflowId);
      return r;
    });
    expect(result).toBe('destroyed and removed');
    expect(h.queued).toHaveLength(1);
    expect(Math.abs(h.queued[0].executed - Date.parse(deadline))).toBeLessThan(5_000);
    expect(h.warnings.map((w) => w.leadMs)).toEqual([24 * HOUR, HOUR]);
    expect(Math.abs(h.warnings[0].at - (Date.parse(deadline) - 24 * HOUR))).toBeLessThan(60_000);
    expect(Math.abs(h.warnings[1].at - (Date.parse(deadline) - HOUR))).toBeLessThan(60_000);
    expect(h.removed).toEqual([{ organization: stack.org, project: stack.project, stack: stack.stack, afterQueued: 1 }]);
    expect(h.failures).toEqual([]);
  });

  test('updating the schedule extends and shortens the TTL; a pause holds it', async () => {
    const h = ttlHarness(['succeeded']);
    const stack = newStack();
    const start = await env.currentTimeMs();
    const at = (days: number) => new Date(start + days * DAY).toISOString();
    await h.run(async () => {
      const handle = await startTtl(h, stack, { deadline: at(30), deleteAfterDestroy: false, paused: false }, []);
      await env.sleep(DAY);
      await handle.signal(ttlUpdateSignal, { deadline: at(60), deleteAfterDestroy: false, paused: false });
      await env.sleep(40 * DAY); // past the first deadline
      expect(h.queued).toEqual([]);
      await handle.signal(ttlUpdateSignal, { deadline: at(45), deleteAfterDestroy: false, paused: true });
      await env.sleep(10 * DAY); // past the shortened deadline, but paused
      expect(h.queued).toEqual([]);
      expect((await handle.query(ttlStateQuery)).terms).toEqual({ deadline: at(45), deleteAfterDestroy: false, paused: true });
      const resumedAt = await env.currentTimeMs();
      await handle.signal(ttlUpdateSignal, { deadline: at(45), deleteAfterDestroy: false, paused: false });
      expect(await handle.result()).toBe('destroyed');
      expect(h.queued).toHaveLength(1);
      // The deadline had passed while paused: it fires on resume.
      expect(h.queued[0].executed - resumedAt).toBeLessThan(60_000);
      expect(h.queued[0].executed).toBeGreaterThan(Date.parse(at(45)));
    });
    expect(h.removed).toEqual([]);
  });

  test('a failed destroy is reported and retried with backoff; the stack is removed only after a destroy succeeded', async () => {
    const h = ttlHarness(['failed', 'failed', 'succeeded']);
    const stack = newStack();
    const start = await env.currentTimeMs();
    const deadline = new Date(start + 2 * DAY).toISOString();
    await h.run(async () => {
      const handle = await startTtl(h, stack, { deadline, deleteAfterDestroy: true, paused: false }, []);
      expect(await handle.result()).toBe('destroyed and removed');
      if (RECORD) await writeHistory(env.client, HISTORIES, 'ttl-stack-retried', handle.workflowId);
    });
    expect(h.queued).toHaveLength(3);
    expect(h.failures.map((f) => [f.attempt, f.deploymentId, f.retryInMs])).toEqual([
      [1, 'd1', 5 * 60_000],
      [2, 'd2', 10 * 60_000],
    ]);
    expect(h.failures[0].message).toBe('destroy deployment 1 ended failed');
    // Backoff: the second attempt 5 minutes after the first, the third 10 minutes after the second.
    expect(h.queued[1].executed - h.queued[0].executed).toBeGreaterThanOrEqual(5 * 60_000);
    expect(h.queued[2].executed - h.queued[1].executed).toBeGreaterThanOrEqual(10 * 60_000);
    expect(h.removed).toEqual([expect.objectContaining({ stack: stack.stack, afterQueued: 3 })]);
  });
});

describe('scheduledDeployment (the action of a cron or once schedule)', () => {
  async function fire(check: FiringCheck) {
    const taskQueue = `fire-${randomUUID()}`;
    const calls: string[] = [];
    const activities: Partial<SharedActivities> = {
      checkScheduleFiring: async () => check,
      recordSkippedFiring: async (f) => void calls.push(`skipped v${f.version}: ${f.message}`),
      queueScheduledDeployment: async () => {
        calls.push('queued');
        return { deploymentId: 'd7', version: 7 };
      },
    };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities });
    const workflowId = `scheduled/acme/website/dev/${randomUUID()}`;
    const result = await worker.runUntil(env.client.workflow.execute(scheduledDeployment, { taskQueue, workflowId, args: [{ org: 'acme', project: 'website', stack: 'dev', scheduleId: 's1' }] }));
    return { result, calls, workflowId };
  }

  test('queues the deployment when the previous firing has finished', async () => {
    const r = await fire({ state: 'ready', version: 2 });
    expect(r).toMatchObject({ result: 'queued deployment 7', calls: ['queued'] });
    if (RECORD) await writeHistory(env.client, HISTORIES, 'scheduled-deployment-queued', r.workflowId);
  });

  test('records the firing as skipped while the previous firing is still queued or running', async () => {
    const r = await fire({ state: 'busy', version: 3, deploymentVersion: 6, status: 'running' });
    expect(r).toMatchObject({ result: 'skipped', calls: ['skipped v3: Skipped: deployment 6 of the previous firing is still running.'] });
    if (RECORD) await writeHistory(env.client, HISTORIES, 'scheduled-deployment-skipped', r.workflowId);
  });

  test('a paused or deleted schedule queues nothing', async () => {
    expect(await fire({ state: 'paused' })).toMatchObject({ result: 'not run: the schedule is paused', calls: [] });
    expect(await fire({ state: 'gone' })).toMatchObject({ result: 'not run: the schedule is deleted', calls: [] });
  });
});
