import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import * as proto from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows, createTimeSkipping, quietRuntime } from './helpers/time-skipping';
import type { ReviewStackActivities, SharedActivities, WorkspaceActivities } from '../src/activities';
import { reviewStack } from '../src/workflows/review-stack';
import { reviewCloseSignal, reviewPushSignal } from '../src/workflows/review-definitions';
import type { ReviewPush, ReviewStackInput } from '../src/shared/review';
import { resolveTools } from '../src/tools';
import { SESSION_WORKER_OPTIONS } from '../src/worker';
import { historyFromJson, writeHistory } from './helpers/histories';
import { unusedScheduleActivities } from './helpers/schedule-activities';
import { claimDelivery, deliveryWorkflowId } from '../src/deployments/delivery';
import { chain, deployment, hookDelivery, stackQueue } from '../src/workflows';
import { chainStateQuery } from '../src/workflows/chain';
import { chainWorkflowId, type ChainInput, type ChainStep } from '../src/shared/chain';
import { cancelSignal, enqueueSignal, queueStateQuery, wakeSignal } from '../src/workflows/definitions';
import { approvalQuery, approveUpdate, rejectUpdate } from '../src/workflows/approval-definitions';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { planOf, stepNames, type DeploymentInput, type DeploymentStatus } from '../src/shared/deployment';
import { deploymentWorkflowId, stackWorkflowId } from '../src/shared/ids';
import { stackKey, type StackRef } from '../src/shared/names';
import type { DeploymentSettings } from '../src/shared/settings';
import { OperationAttr, SEARCH_ATTRIBUTES, StackAttr, StatusAttr, VersionAttr } from '../src/shared/search-attributes';
import { poolQueue } from '../src/shared/pools';

// Workflow logic against a real (ephemeral) Temporal server with mocked activities.
// RECORD_HISTORIES=1 rewrites test/histories/*.json, which the replay test checks the code against.

const HISTORIES = join(__dirname, 'histories');
const RECORD = process.env.RECORD_HISTORIES === '1';

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  quietRuntime();
  [env, workflowBundle] = await Promise.all([
    TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: resolveTools().temporalCli }, searchAttributes: SEARCH_ATTRIBUTES },
    }),
    bundleWorkflows(),
  ]);
});
afterAll(async () => env?.teardown());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let nextStack = 0;
const newStack = (): StackRef => ({ org: 'acme', project: 'website', stack: `s${++nextStack}-${randomUUID().slice(0, 6)}` });

function newInput(stack: StackRef, version: number, settings: DeploymentSettings = {}): DeploymentInput {
  return { ...stack, id: `d-${version}-${randomUUID()}`, version, operation: 'update', plan: planOf(settings) };
}

type WorkspaceName = keyof WorkspaceActivities | 'reportDeployment';
interface Call {
  activity: WorkspaceName | 'setDeploymentStatus' | 'skipDeployment' | 'recoverStack' | 'queueRemediation' | 'requestApproval' | 'recordDecision' | 'approvalNotice';
  id: string;
  /** Step index for steps, status for setDeploymentStatus. */
  step?: number;
  preRunIndex?: number;
  status?: DeploymentStatus;
  message?: string;
  resourceChanges?: Record<string, number>;
}
/** Optional behaviour run after a workspace activity is recorded (delays, failures, waiting for cancellation). */
type Hooks = Partial<Record<WorkspaceName, (id: string, input?: DeploymentInput) => Promise<void>>> & {
  /** Whether the stack's queue is paused (the store's answer). */
  paused?: () => boolean;
  /** The retry the store would create for an interrupted deployment. */
  retry?: (input: DeploymentInput) => DeploymentInput | undefined;
  /** The store's answer to a status write (false: the deployment had already ended). */
  setDeploymentStatus?: (id: string, status: DeploymentStatus) => boolean | undefined;
  /** What the Pulumi step returns (drift operations add driftDetected). */
  summary?: (input: DeploymentInput) => Awaited<ReturnType<WorkspaceActivities['pulumiOperation']>>;
  /** The remediation the store would record for a detection. */
  remediation?: (detection: DeploymentInput) => DeploymentInput;
  /** Hook and chain activities (events are recorded in `published` unless replaced). */
  hookActivities?: Partial<HookActivities>;
};
type HookActivities = Pick<SharedActivities, 'publishEvent' | 'deliverHook' | 'hasDependents' | 'chainPlan' | 'queueChainLink' | 'awaitDeployment' | 'cancelChainDeployment'>;

/**
 * Mocked activities on a task queue of their own, wired like src/worker.ts: the shared queue runs
 * workflows and the shared activities; the queue named by claimWorkspace runs the workspace ones.
 */
function harness(hooks: Hooks = {}, on: () => TestWorkflowEnvironment = () => env) {
  const taskQueue = `wf-test-${randomUUID()}`;
  const sessionQueue = `${taskQueue}/session`;
  const calls: Call[] = [];
  const published: Parameters<SharedActivities['publishEvent']>[0][] = [];
  const unexpected = (name: string) => async (): Promise<never> => {
    throw ApplicationFailure.nonRetryable(`${name} was not expected`);
  };
  const hookActivities: HookActivities = {
    publishEvent: async (e) => void published.push(e),
    deliverHook: unexpected('deliverHook'),
    hasDependents: async () => false,
    chainPlan: unexpected('chainPlan'),
    queueChainLink: unexpected('queueChainLink'),
    awaitDeployment: unexpected('awaitDeployment'),
    cancelChainDeployment: unexpected('cancelChainDeployment'),
    ...hooks.hookActivities,
  };
  const step = async (activity: WorkspaceName, input: DeploymentInput, step: number, preRunIndex?: number) => {
    calls.push({ activity, id: input.id, step, ...(preRunIndex !== undefined ? { preRunIndex } : {}) });
    await hooks[activity]?.(input.id, input);
  };
  const shared: SharedActivities = {
    claimWorkspace: async () => sessionQueue,
    setDeploymentStatus: async (id, status, message) => {
      calls.push({ activity: 'setDeploymentStatus', id, status, message });
      return hooks.setDeploymentStatus?.(id, status) ?? true;
    },
    reportDeployment: async (input, outcome) => {
      calls.push({ activity: 'reportDeployment', id: input.id, ...outcome });
      await hooks.reportDeployment?.(input.id, input);
    },
    skipDeployment: async (input, message) => {
      calls.push({ activity: 'skipDeployment', id: input.id, message });
    },
    isQueuePaused: async () => hooks.paused?.() ?? false,
    recoverStack: async (input, why) => {
      calls.push({ activity: 'recoverStack', id: input.id, message: why });
      return 'The stack was recovered.';
    },
    retryDeployment: async (input) => hooks.retry?.(input),
    queueRemediation: async (detection) => {
      calls.push({ activity: 'queueRemediation', id: detection.id });
      if (!hooks.remediation) throw ApplicationFailure.nonRetryable('no remediation expected');
      return hooks.remediation(detection);
    },
    ...unusedScheduleActivities,
    requestApproval: async (input, n) => {
      calls.push({ activity: 'requestApproval', id: input.id, step: n });
      return { requestedBy: 'requester' };
    },
    recordDecision: async (input, n, d) => {
      calls.push({ activity: 'recordDecision', id: input.id, step: n, message: `${d.decision} ${d.name}` });
    },
    approvalNotice: async (input, n, line) => {
      calls.push({ activity: 'approvalNotice', id: input.id, step: n, message: line });
    },
    ...hookActivities,
  };
  const workspace: WorkspaceActivities = {
    getSource: async (input, n) => {
      await step('getSource', input, n);
      return { commit: 'f00dfeed' };
    },
    installDependencies: (input, n) => step('installDependencies', input, n),
    preRunCommand: (input, n, index) => step('preRunCommand', input, n, index),
    pulumiOperation: async (input, n) => {
      await step('pulumiOperation', input, n);
      return hooks.summary?.(input) ?? { result: 'succeeded', resourceChanges: { create: 1 } };
    },
    cleanupWorkspace: async (id) => {
      calls.push({ activity: 'cleanupWorkspace', id });
      await hooks.cleanupWorkspace?.(id);
    },
    previewForApproval: async (input, n) => {
      await step('previewForApproval', input, n);
      return { result: 'succeeded', resourceChanges: { create: 1 } };
    },
    applyApproved: async (input, n) => {
      await step('applyApproved', input, n);
      return { result: 'succeeded', resourceChanges: { create: 1 } };
    },
  };
  const common = { connection: on().nativeConnection, identity: 'stackwright-test', shutdownGraceTime: '1 second' as const };
  return {
    taskQueue,
    sessionQueue,
    calls,
    published,
    callsFor: (id: string) => calls.filter((c) => c.id === id),
    async run<T>(fn: () => Promise<T>): Promise<T> {
      const workers = await Promise.all([
        Worker.create({ ...common, taskQueue, workflowBundle, activities: shared }),
        Worker.create({ ...common, ...SESSION_WORKER_OPTIONS, taskQueue: sessionQueue, activities: workspace }),
      ]);
      const body = fn();
      await Promise.all(workers.map((w) => w.runUntil(body)));
      return body;
    },
  };
}

/** Writes a new history in Temporal's JSON history format, without machine-specific identities. */
const recordHistory = (name: string, workflowId: string) => writeHistory(env.client, HISTORIES, name, workflowId);

const statusOf = async (workflowId: string) =>
  (await env.client.workflow.getHandle(workflowId).describe()).typedSearchAttributes;

describe('stackQueue', () => {
  test('runs deployments one at a time, in the order they were requested', async () => {
    const stack = newStack();
    const inputs = [1, 2, 3, 4].map((v) => newInput(stack, v));
    const versionOf = new Map(inputs.map((d) => [d.id, d.version]));
    const release = deferred();
    const log: string[] = [];
    const h = harness({
      pulumiOperation: async (id) => {
        const v = versionOf.get(id)!;
        log.push(`v${v} pulumi start`);
        if (v === 1) await release.promise;
        else await sleep(150);
        log.push(`v${v} pulumi end`);
      },
    });
    const queueId = stackWorkflowId(stack);

    await h.run(async () => {
      for (const d of inputs) {
        await env.client.workflow.signalWithStart(stackQueue, {
          taskQueue: h.taskQueue,
          workflowId: queueId,
          args: [{ stack }],
          signal: enqueueSignal,
          signalArgs: [d],
        });
      }
      const queue = env.client.workflow.getHandle(queueId);
      // The first deployment is held inside its Pulumi step: the rest wait behind it, in order.
      const state = await eventually('queue state with three waiting', async () => {
        const s = await queue.query(queueStateQuery);
        return s.running && s.queued.length === 3 && log.length === 1 ? s : undefined;
      });
      expect(state).toEqual({
        running: { id: inputs[0].id, version: 1 },
        queued: inputs.slice(1).map((d) => ({ id: d.id, version: d.version })),
      });
      // Enqueueing an already-queued deployment again does nothing.
      await queue.signal(enqueueSignal, inputs[2]);
      expect((await queue.query(queueStateQuery)).queued).toHaveLength(3);
      expect(log).toEqual(['v1 pulumi start']);

      release.resolve();
      await eventually('an idle queue', async () => {
        const s = await queue.query(queueStateQuery);
        return !s.running && s.queued.length === 0 && log.length === 8 ? s : undefined;
      });
      await eventually('the last deployment to close', async () =>
        (await env.client.workflow.getHandle(deploymentWorkflowId(stack, 4)).describe()).status.name === 'COMPLETED' || undefined,
      );
    });

    // Strictly one at a time: each deployment's whole life (running → cleanup) ends before the next starts.
    const lifecycle = h.calls.map((c) => `v${versionOf.get(c.id)} ${c.activity}${c.status ? `:${c.status}` : ''}`);
    const expected = [1, 2, 3, 4].flatMap((v) => [
      `v${v} setDeploymentStatus:running`,
      `v${v} getSource`,
      `v${v} installDependencies`,
      `v${v} pulumiOperation`,
      `v${v} setDeploymentStatus:succeeded`,
      `v${v} cleanupWorkspace`,
    ]);
    expect(lifecycle).toEqual(expected);
    expect(log).toEqual([1, 2, 3, 4].flatMap((v) => [`v${v} pulumi start`, `v${v} pulumi end`]));

    for (const d of inputs) {
      const attrs = await statusOf(deploymentWorkflowId(stack, d.version));
      expect(attrs.get(StatusAttr)).toBe('succeeded');
      expect(attrs.get(StackAttr)).toBe(stackKey(stack));
      expect(attrs.get(VersionAttr)).toBe(d.version);
      expect(attrs.get(OperationAttr)).toBe('update');
    }

    // The queue would idle for an hour; end it so the recorded history is complete.
    await env.client.workflow.getHandle(queueId).terminate('test done');
    if (RECORD) await recordHistory('stack-queue', queueId);
    if (RECORD) await recordHistory('stack-queue-plan-input', queueId);
    // Store-only calls as local activities.
    if (RECORD) await recordHistory('stack-queue-local-store', queueId);
  });
});

describe('stackQueue rules', () => {
  const enqueue = (h: ReturnType<typeof harness>, stack: StackRef, d: DeploymentInput) =>
    env.client.workflow.signalWithStart(stackQueue, {
      taskQueue: h.taskQueue,
      workflowId: stackWorkflowId(stack),
      args: [{ stack }],
      signal: enqueueSignal,
      signalArgs: [d],
    });
  /** Holds each deployment's Pulumi step until released, heartbeating so a stop reaches it. */
  const holdingPulumi = () => {
    const started: string[] = [];
    const release = deferred();
    const pulumiOperation = async (id: string) => {
      started.push(id);
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 500);
      try {
        await Promise.race([release.promise, ctx.cancelled]);
      } finally {
        clearInterval(beat);
      }
    };
    return { started, release, pulumiOperation };
  };
  const finished = (h: ReturnType<typeof harness>, id: string) =>
    h.calls.find((c) => c.id === id && (c.activity === 'skipDeployment' || (c.activity === 'setDeploymentStatus' && c.status !== 'running')));
  const waitIdle = (stack: StackRef) =>
    eventually('an idle queue', async () => {
      const s = await env.client.workflow.getHandle(stackWorkflowId(stack)).query(queueStateQuery);
      return !s.running && s.queued.length === 0 ? s : undefined;
    });

  test('skipIntermediateDeployments skips every queued deployment of the same operation but the newest', async () => {
    const stack = newStack();
    const skipping: DeploymentSettings = { operationContext: { options: { skipIntermediateDeployments: true } } };
    const updates = [1, 2, 3, 5].map((v) => newInput(stack, v, skipping));
    const destroy = { ...newInput(stack, 4, skipping), operation: 'destroy' as const };
    const hold = holdingPulumi();
    const h = harness({ pulumiOperation: hold.pulumiOperation });
    await h.run(async () => {
      await enqueue(h, stack, updates[0]);
      await eventually('v1 in pulumi', () => (hold.started.length === 1 ? true : undefined));
      for (const d of [updates[1], updates[2], destroy, updates[3]]) await enqueue(h, stack, d);
      hold.release.resolve();
      await eventually('every deployment finished', () => ([...updates, destroy].every((d) => finished(h, d.id)) ? true : undefined));
      await waitIdle(stack);
    });
    // A queued destroy is never skipped in favour of an update; the newest update runs.
    expect(hold.started).toEqual([updates[0].id, destroy.id, updates[3].id]);
    expect(finished(h, updates[1].id)).toEqual({ activity: 'skipDeployment', id: updates[1].id, message: 'Skipped: a newer update (version 5) was queued.' });
    expect(finished(h, updates[2].id)).toEqual({ activity: 'skipDeployment', id: updates[2].id, message: 'Skipped: a newer update (version 5) was queued.' });
    await env.client.workflow.getHandle(stackWorkflowId(stack)).terminate('test done');
  });

  test('without the option every queued deployment runs', async () => {
    const stack = newStack();
    const inputs = [1, 2, 3].map((v) => newInput(stack, v));
    const hold = holdingPulumi();
    const h = harness({ pulumiOperation: hold.pulumiOperation });
    await h.run(async () => {
      await enqueue(h, stack, inputs[0]);
      await eventually('v1 in pulumi', () => (hold.started.length === 1 ? true : undefined));
      for (const d of inputs.slice(1)) await enqueue(h, stack, d);
      hold.release.resolve();
      await eventually('all ran', () => (inputs.every((d) => finished(h, d.id)) ? true : undefined));
    });
    expect(hold.started).toEqual(inputs.map((d) => d.id));
    expect(h.calls.filter((c) => c.activity === 'skipDeployment')).toEqual([]);
    await env.client.workflow.getHandle(stackWorkflowId(stack)).terminate('test done');
  });

  test('cancel skips a queued deployment at once and stops a running one, which then recovers the stack', async () => {
    const stack = newStack();
    const [first, second, third] = [1, 2, 3].map((v) => newInput(stack, v));
    const hold = holdingPulumi();
    const h = harness({ pulumiOperation: hold.pulumiOperation });
    const queue = env.client.workflow.getHandle(stackWorkflowId(stack));
    await h.run(async () => {
      await enqueue(h, stack, first);
      await eventually('v1 in pulumi', () => (hold.started.length === 1 ? true : undefined));
      await enqueue(h, stack, second);
      await enqueue(h, stack, third);
      await queue.signal(cancelSignal, second.id);
      await eventually('v2 skipped', () => finished(h, second.id));
      expect((await queue.query(queueStateQuery)).queued).toEqual([{ id: third.id, version: 3 }]);
      await queue.signal(cancelSignal, first.id);
      await eventually('v1 stopped', () => finished(h, first.id));
      hold.release.resolve();
      await eventually('v3 ran', () => finished(h, third.id));
    });
    expect(finished(h, second.id)).toEqual({ activity: 'skipDeployment', id: second.id, message: 'Cancelled before it started.' });
    expect(h.callsFor(first.id).slice(-3)).toEqual([
      { activity: 'recoverStack', id: first.id, message: 'Cancelled by request.' },
      { activity: 'setDeploymentStatus', id: first.id, status: 'failed', message: 'Cancelled by request. The stack was recovered.' },
      { activity: 'cleanupWorkspace', id: first.id },
    ]);
    expect(hold.started).toEqual([first.id, third.id]);
    expect(finished(h, third.id)).toMatchObject({ status: 'succeeded' });
    await queue.terminate('test done');
  });

  test('a deployment with the same supersede key replaces a queued one and stops a running one as skipped', async () => {
    const stack = newStack();
    const key = 'pr:github:acme/website#7';
    const [first, second, third] = [1, 2, 3].map((v) => ({ ...newInput(stack, v), operation: 'preview' as const, supersedeKey: key }));
    const other = newInput(stack, 4);
    const hold = holdingPulumi();
    const h = harness({ pulumiOperation: hold.pulumiOperation });
    await h.run(async () => {
      await enqueue(h, stack, first);
      await eventually('v1 in pulumi', () => (hold.started.length === 1 ? true : undefined));
      await enqueue(h, stack, second);
      await enqueue(h, stack, other);
      await enqueue(h, stack, third);
      await eventually('v1 and v2 superseded', () => (finished(h, first.id) && finished(h, second.id) ? true : undefined));
      hold.release.resolve();
      await eventually('v3 and v4 ran', () => (finished(h, third.id) && finished(h, other.id) ? true : undefined));
    });
    expect(finished(h, second.id)).toEqual({ activity: 'skipDeployment', id: second.id, message: 'Superseded by deployment 3.' });
    expect(finished(h, first.id)).toMatchObject({ status: 'skipped', message: 'Superseded by deployment 2. The stack was recovered.' });
    expect(hold.started).toEqual([first.id, other.id, third.id]);
    await env.client.workflow.getHandle(stackWorkflowId(stack)).terminate('test done');
  });

  test('an interrupted deployment is recovered, fails, and is retried once as a new deployment when enabled', async () => {
    const stack = newStack();
    const first = newInput(stack, 1);
    const retryOf = new Map<string, string>();
    const h = harness({
      pulumiOperation: async (id) => {
        if (!retryOf.has(id)) throw ApplicationFailure.nonRetryable('Pulumi was stopped: it reported no engine event for 30 min.', 'PulumiInterrupted');
      },
      retry: (input) => {
        if (input.retryOf) return undefined;
        const again = { ...newInput(stack, input.version + 1), retryOf: input.id };
        retryOf.set(again.id, input.id);
        return again;
      },
    });
    await h.run(async () => {
      await enqueue(h, stack, first);
      await eventually('the retry ran', () => h.calls.find((c) => retryOf.has(c.id) && c.status === 'succeeded'));
    });
    const message = 'Pulumi was stopped: it reported no engine event for 30 min.';
    expect(h.callsFor(first.id).slice(-3)).toEqual([
      { activity: 'recoverStack', id: first.id, message },
      { activity: 'setDeploymentStatus', id: first.id, status: 'failed', message: `${message} The stack was recovered.` },
      { activity: 'cleanupWorkspace', id: first.id },
    ]);
    expect([...retryOf.values()]).toEqual([first.id]);
    await env.client.workflow.getHandle(stackWorkflowId(stack)).terminate('test done');
  });

  test('a deployment the queue starts while its supersede is recorded does not supersede itself', async () => {
    const stack = newStack();
    const key = 'pr:github:acme/website#8';
    const [first, second] = [1, 2].map((v) => ({ ...newInput(stack, v), operation: 'preview' as const, supersedeKey: key }));
    const h = harness();
    // Both arrive before the queue's first task (no worker runs yet): the second skips the first while the loop picks the second up.
    await enqueue(h, stack, first);
    await enqueue(h, stack, second);
    await h.run(() => eventually('both finished', () => (finished(h, first.id) && finished(h, second.id) ? true : undefined)));
    expect(finished(h, first.id)).toEqual({ activity: 'skipDeployment', id: first.id, message: 'Superseded by deployment 2.' });
    expect(finished(h, second.id)).toMatchObject({ activity: 'setDeploymentStatus', status: 'succeeded' });
    await env.client.workflow.getHandle(stackWorkflowId(stack)).terminate('test done');
  });

  test('a paused queue accepts deployments and runs them after a wake-up once resumed', async () => {
    const stack = newStack();
    let paused = true;
    const h = harness({ paused: () => paused });
    const d = newInput(stack, 1);
    const queue = env.client.workflow.getHandle(stackWorkflowId(stack));
    await h.run(async () => {
      await enqueue(h, stack, d);
      await eventually('queued while paused', async () => ((await queue.query(queueStateQuery)).queued.length === 1 ? true : undefined));
      await sleep(500);
      expect(h.callsFor(d.id)).toEqual([]);
      paused = false;
      await queue.signal(wakeSignal);
      await eventually('ran', () => finished(h, d.id));
    });
    expect(finished(h, d.id)).toMatchObject({ status: 'succeeded' });
    await queue.terminate('test done');
    if (RECORD) await recordHistory('stack-queue-paused', stackWorkflowId(stack));
  });
  test('a detection that finds drift has the workflow queue its remediation, which runs before what was queued earlier', async () => {
    const stack = newStack();
    const remediating: DeploymentSettings = { operationContext: { options: { remediateIfDriftDetected: true } } };
    const detection: DeploymentInput = { ...newInput(stack, 1, remediating), operation: 'detect-drift' };
    const waiting = newInput(stack, 2);
    const remediation: DeploymentInput = { ...newInput(stack, 3, remediating), operation: 'remediate-drift' };
    const release = deferred();
    const order: string[] = [];
    const h = harness({
      pulumiOperation: async (id) => {
        order.push(id);
        if (id === detection.id) await release.promise;
      },
      summary: (input) =>
        input.id === detection.id ? { result: 'succeeded', resourceChanges: { update: 1 }, driftDetected: true } : { result: 'succeeded', resourceChanges: { same: 1 } },
      remediation: () => remediation,
    });
    await h.run(async () => {
      await enqueue(h, stack, detection);
      await eventually('the detection in pulumi', () => (order.length === 1 ? true : undefined));
      await enqueue(h, stack, waiting);
      release.resolve();
      await eventually('all three ran', () => ([detection, waiting, remediation].every((d) => finished(h, d.id)) ? true : undefined));
    });
    // Recorded before the detection's outcome, from its result; the queue runs it next.
    expect(h.callsFor(detection.id).map((c) => `${c.activity}${c.status ? `:${c.status}` : ''}`).slice(-3)).toEqual([
      'queueRemediation',
      'setDeploymentStatus:succeeded',
      'cleanupWorkspace',
    ]);
    expect(order).toEqual([detection.id, remediation.id, waiting.id]);
    // The waiting update finds no drift to act on: one remediation only.
    expect(h.calls.filter((c) => c.activity === 'queueRemediation')).toHaveLength(1);
    await env.client.workflow.getHandle(stackWorkflowId(stack)).terminate('test done');
    if (RECORD) {
      await recordHistory('deployment-drift-remediation', deploymentWorkflowId(stack, 1));
      await recordHistory('stack-queue-remediation', stackWorkflowId(stack));
    }
  });

  test('a deployment workflow terminated from outside gets its record failed by the queue, which moves on', async () => {
    const stack = newStack();
    const [first, second] = [1, 2].map((v) => newInput(stack, v));
    const inPulumi = deferred();
    const h = harness({
      pulumiOperation: async (id) => {
        if (id !== first.id) return;
        inPulumi.resolve();
        // Heartbeats fail once the workflow is gone, which cancels the activity.
        const ctx = Context.current();
        const beat = setInterval(() => ctx.heartbeat(), 200);
        await ctx.cancelled.catch(() => undefined).finally(() => clearInterval(beat));
      },
    });
    await h.run(async () => {
      await enqueue(h, stack, first);
      await enqueue(h, stack, second);
      await inPulumi.promise;
      await env.client.workflow.getHandle(deploymentWorkflowId(stack, 1)).terminate('stuck, terminated from the UI');
      await eventually('v2 ran', () => finished(h, second.id));
    });
    expect(finished(h, first.id)).toEqual({
      activity: 'setDeploymentStatus',
      id: first.id,
      status: 'failed',
      message: "Failed: the deployment's workflow was terminated before it recorded an outcome.",
    });
    expect(finished(h, second.id)).toMatchObject({ status: 'succeeded' });
    await env.client.workflow.getHandle(stackWorkflowId(stack)).terminate('test done');
    if (RECORD) await recordHistory('stack-queue-child-terminated', stackWorkflowId(stack));
  });
});

describe('stackQueue expiry (time-skipping server)', () => {
  test('each queued deployment is skipped once it has waited 7 days, and not before', async () => {
    const skipping = await createTimeSkipping();
    try {
      const stack = newStack();
      const taskQueue = `expiry-${randomUUID()}`;
      const skipped: { id: string; message: string }[] = [];
      const activities: Partial<SharedActivities> = {
        isQueuePaused: async () => true,
        skipDeployment: async (input, message) => void skipped.push({ id: input.id, message }),
      };
      const worker = await Worker.create({ connection: skipping.nativeConnection, taskQueue, workflowBundle, activities });
      await worker.runUntil(async () => {
        const [old, fresh] = [newInput(stack, 1), newInput(stack, 2)];
        const handle = await skipping.client.workflow.start(stackQueue, { taskQueue, workflowId: stackWorkflowId(stack), args: [{ stack }] });
        await handle.signal(enqueueSignal, old);
        await skipping.sleep('6 days');
        await handle.signal(enqueueSignal, fresh);
        await skipping.sleep('1 day');
        await eventually('v1 expired', () => (skipped.length === 1 ? true : undefined));
        const message = 'Skipped: not started within 7 days of being queued.';
        expect(skipped).toEqual([{ id: old.id, message }]);
        expect((await handle.query(queueStateQuery)).queued).toEqual([{ id: fresh.id, version: 2 }]);
        await skipping.sleep('6 days');
        await eventually('v2 expired', () => (skipped.length === 2 ? true : undefined));
        expect(skipped[1]).toEqual({ id: fresh.id, message });
        await handle.terminate('test done');
      });
    } finally {
      await skipping.teardown();
    }
  });
});

describe('deployment', () => {
  const runDeployment = async (h: ReturnType<typeof harness>, input: DeploymentInput, workflowId = `deployment-test-${input.id}`) =>
    h.run(() => env.client.workflow.execute(deployment, { taskQueue: h.taskQueue, workflowId, args: [input] }));

  test('records running then succeeded, and numbers the steps as stepNames does', async () => {
    const h = harness();
    const settings: DeploymentSettings = { operationContext: { preRunCommands: ['echo one', 'echo two'] } };
    const input = newInput(newStack(), 1, settings);
    const workflowId = `deployment-test-${input.id}`;

    await expect(runDeployment(h, input, workflowId)).resolves.toEqual({ status: 'succeeded' });

    expect(h.callsFor(input.id)).toEqual([
      { activity: 'setDeploymentStatus', id: input.id, status: 'running' },
      { activity: 'getSource', id: input.id, step: 0 },
      { activity: 'installDependencies', id: input.id, step: 1 },
      { activity: 'preRunCommand', id: input.id, step: 2, preRunIndex: 0 },
      { activity: 'preRunCommand', id: input.id, step: 3, preRunIndex: 1 },
      { activity: 'pulumiOperation', id: input.id, step: 4 },
      { activity: 'setDeploymentStatus', id: input.id, status: 'succeeded' },
      { activity: 'cleanupWorkspace', id: input.id },
    ]);
    // The step indexes the workflow uses are the ones the store created rows for.
    expect(stepNames(settings)).toEqual(['Get source', 'Install dependencies', 'Pre-run command 1', 'Pre-run command 2', 'Pulumi operation']);

    // The search attribute follows the status.
    expect((await statusOf(workflowId)).get(StatusAttr)).toBe('succeeded');
    if (RECORD) await recordHistory('deployment-succeeded', workflowId);
    // Inputs that carry a plan, not the settings.
    if (RECORD) await recordHistory('deployment-succeeded-plan-input', workflowId);
    if (RECORD) await recordHistory('deployment-local-store', workflowId);
  });

  test('a runner pool deployment is taken by a worker of its pool before it is marked running', async () => {
    const h = harness();
    const input = newInput(newStack(), 1, { agentPoolID: 'edge' });
    expect(input.plan?.pool).toBe('edge');
    const workflowId = `deployment-test-${input.id}`;
    const order: string[] = [];
    const pool = await Worker.create({
      connection: env.nativeConnection,
      identity: 'stackwright-test-pool',
      taskQueue: poolQueue(h.taskQueue, 'edge'),
      activities: {
        claimWorkspace: async () => {
          order.push(`claimed with ${h.callsFor(input.id).length} calls before`);
          return h.sessionQueue;
        },
      },
    });
    const run = runDeployment(h, input, workflowId);
    await pool.runUntil(run);
    await expect(run).resolves.toEqual({ status: 'succeeded' });
    expect(order).toEqual(['claimed with 0 calls before']);
    expect(h.callsFor(input.id).map((c) => c.activity)).toEqual(['setDeploymentStatus', 'getSource', 'installDependencies', 'pulumiOperation', 'setDeploymentStatus', 'cleanupWorkspace']);
    if (RECORD) await recordHistory('deployment-runner-pool', workflowId);
  });

  test('a deployment that already ended (its claim fails) runs nothing', async () => {
    const h = harness({ setDeploymentStatus: (_id, status) => status !== 'running' });
    const input = newInput(newStack(), 1);
    const workflowId = `deployment-test-${input.id}`;

    await expect(runDeployment(h, input, workflowId)).resolves.toEqual({ status: 'skipped', message: 'Not run: the deployment had already ended.' });

    expect(h.callsFor(input.id)).toEqual([{ activity: 'setDeploymentStatus', id: input.id, status: 'running' }]);
    expect((await statusOf(workflowId)).get(StatusAttr)).toBe('skipped');
  });

  test('skipInstallDependencies removes the install step', async () => {
    const h = harness();
    const settings: DeploymentSettings = {
      operationContext: { preRunCommands: ['echo one', 'echo two'], options: { skipInstallDependencies: true } },
    };
    const input = newInput(newStack(), 1, settings);

    await expect(runDeployment(h, input)).resolves.toEqual({ status: 'succeeded' });

    const steps = h.callsFor(input.id).filter((c) => c.step !== undefined);
    expect(steps.map((c) => [c.activity, c.step])).toEqual([
      ['getSource', 0],
      ['preRunCommand', 1],
      ['preRunCommand', 2],
      ['pulumiOperation', 3],
    ]);
    expect(stepNames(settings)).toEqual(['Get source', 'Pre-run command 1', 'Pre-run command 2', 'Pulumi operation']);
  });

  const trigger = { provider: 'github', repository: 'acme/infra', event: 'pull_request', commit: 'a'.repeat(40), pullRequest: 7 } as const;

  test('a git-triggered deployment reports running, then its result with the resource changes', async () => {
    const h = harness();
    const input: DeploymentInput = { ...newInput(newStack(), 1), operation: 'preview', trigger };
    const workflowId = `deployment-test-${input.id}`;

    await expect(runDeployment(h, input, workflowId)).resolves.toEqual({ status: 'succeeded' });

    expect(h.callsFor(input.id).map((c) => [c.activity, c.status])).toEqual([
      ['setDeploymentStatus', 'running'],
      ['reportDeployment', 'running'],
      ['getSource', undefined],
      ['installDependencies', undefined],
      ['pulumiOperation', undefined],
      ['setDeploymentStatus', 'succeeded'],
      ['reportDeployment', 'succeeded'],
      ['cleanupWorkspace', undefined],
    ]);
    expect(h.callsFor(input.id)[6]).toEqual({ activity: 'reportDeployment', id: input.id, status: 'succeeded', resourceChanges: { create: 1 } });
    if (RECORD) await recordHistory('deployment-triggered', workflowId);
  });

  test('a failing report does not fail the deployment', async () => {
    const h = harness({
      reportDeployment: async () => {
        throw new Error('GitHub is down');
      },
    });
    const input: DeploymentInput = { ...newInput(newStack(), 1), trigger };

    await expect(runDeployment(h, input)).resolves.toEqual({ status: 'succeeded' });

    const reports = h.callsFor(input.id).filter((c) => c.activity === 'reportDeployment');
    // Three attempts at each report, then the deployment goes on.
    expect(reports.map((c) => c.status)).toEqual(['running', 'running', 'running', 'succeeded', 'succeeded', 'succeeded']);
    expect(h.callsFor(input.id).some((c) => c.activity === 'pulumiOperation')).toBe(true);
  });

  test('a failing step fails the deployment with its message, skips the rest and still cleans up', async () => {
    const h = harness({
      installDependencies: async () => {
        throw ApplicationFailure.nonRetryable('boom', 'StepFailed');
      },
    });
    const input = newInput(newStack(), 1, { operationContext: { preRunCommands: ['echo one'] } });
    const workflowId = `deployment-test-${input.id}`;

    await expect(runDeployment(h, input, workflowId)).resolves.toEqual({ status: 'failed', message: 'boom' });

    expect(h.callsFor(input.id)).toEqual([
      { activity: 'setDeploymentStatus', id: input.id, status: 'running' },
      { activity: 'getSource', id: input.id, step: 0 },
      { activity: 'installDependencies', id: input.id, step: 1 },
      { activity: 'setDeploymentStatus', id: input.id, status: 'failed', message: 'boom' },
      { activity: 'cleanupWorkspace', id: input.id },
    ]);
    expect((await statusOf(workflowId)).get(StatusAttr)).toBe('failed');
  });

  test('cancelling a running deployment stops the step, recovers the stack, records failed and cleans up', async () => {
    const inPulumi = deferred();
    let stepCancelled = false;
    const h = harness({
      pulumiOperation: async () => {
        // Heartbeat like the real steps: once at once, then on a timer (theirs is 5 s).
        const ctx = Context.current();
        ctx.heartbeat();
        const beat = setInterval(() => ctx.heartbeat(), 1000);
        inPulumi.resolve();
        try {
          await ctx.cancelled;
        } catch (err) {
          stepCancelled = true;
          throw err;
        } finally {
          clearInterval(beat);
        }
      },
    });
    const input = newInput(newStack(), 1);
    const workflowId = `deployment-test-${input.id}`;

    let cancelMs = 0;
    const result = await h.run(async () => {
      const handle = await env.client.workflow.start(deployment, { taskQueue: h.taskQueue, workflowId, args: [input] });
      await inPulumi.promise;
      const t0 = Date.now();
      await handle.cancel();
      const r = await handle.result();
      cancelMs = Date.now() - t0;
      return r;
    });

    const message = 'The deployment was cancelled. The stack was recovered.';
    expect(result).toEqual({ status: 'failed', message });
    expect(stepCancelled).toBe(true);
    const calls = h.callsFor(input.id);
    expect(calls.map((c) => c.activity)).toEqual([
      'setDeploymentStatus',
      'getSource',
      'installDependencies',
      'pulumiOperation',
      'recoverStack',
      'setDeploymentStatus',
      'cleanupWorkspace',
    ]);
    expect(calls[4]).toEqual({ activity: 'recoverStack', id: input.id, message: 'The deployment was cancelled.' });
    expect(calls[5]).toEqual({ activity: 'setDeploymentStatus', id: input.id, status: 'failed', message });
    expect((await statusOf(workflowId)).get(StatusAttr)).toBe('failed');
    // The cancel reaches the activity only in a heartbeat response: it must not wait out the default
    // heartbeat throttle (80% of the 1 minute heartbeat timeout, i.e. 48 s).
    expect(cancelMs).toBeLessThan(10_000);
    if (RECORD) await recordHistory('deployment-cancelled-recovered', workflowId);
  });
});

describe('webhookDelivery', () => {
  test('a delivery is claimed once, even by concurrent requests; a failed one may be claimed again', async () => {
    const h = harness();
    const deps = { temporal: env.client, taskQueue: h.taskQueue };
    const id = randomUUID();
    const failing = randomUUID();
    await h.run(async () => {
      const claims = await Promise.all([1, 2, 3].map(() => claimDelivery(deps, 'github', id)));
      const won = claims.filter((c) => c !== undefined);
      expect(won).toHaveLength(1);
      await won[0]!({ ok: true, deployments: ['acme/website/dev@1'] });
      expect(await env.client.workflow.getHandle(deliveryWorkflowId('github', id)).result()).toEqual({ ok: true, deployments: ['acme/website/dev@1'] });
      // Handled: a redelivery is turned away.
      expect(await claimDelivery(deps, 'github', id)).toBeUndefined();

      const first = await claimDelivery(deps, 'github', failing);
      await first!({ ok: false, deployments: [] });
      await expect(env.client.workflow.getHandle(deliveryWorkflowId('github', failing)).result()).rejects.toThrow();
      const retry = await claimDelivery(deps, 'github', failing);
      expect(retry).toBeDefined();
      await retry!({ ok: true, deployments: [] });
    });
  });

  test('delivery ids outside a safe alphabet are hashed into the workflow id', () => {
    expect(deliveryWorkflowId('github', '72d3162e-cc78-11e3-81ab-4c9367dc0958')).toBe('delivery/github/72d3162e-cc78-11e3-81ab-4c9367dc0958');
    expect(deliveryWorkflowId('gitlab', '../../x y')).toMatch(/^delivery\/gitlab\/[0-9a-f]{64}$/);
  });
});

describe('deployment approvals', () => {
  const settings: DeploymentSettings = { operationContext: { options: { requireApproval: { approvers: ['bob', 'carol', 'requester'], requiredApprovals: 2 } } } };
  const decider = (name: string, comment?: string) => ({ name, role: 'deployer' as const, source: 'api' as const, ...(comment ? { comment } : {}) });
  const waitingFor = (h: ReturnType<typeof harness>, id: string) =>
    eventually('waiting for approval', () => (h.callsFor(id).some((c) => c.status === 'waiting-for-approval') ? true : undefined));

  test('previews, waits across a worker restart, refuses self-approval, counts two approvals, then applies the plan', async () => {
    const h = harness();
    const input = newInput(newStack(), 1, settings);
    const workflowId = `deployment-test-${input.id}`;
    const handle = env.client.workflow.getHandle(workflowId);
    await h.run(async () => {
      await env.client.workflow.start(deployment, { taskQueue: h.taskQueue, workflowId, args: [input] });
      await waitingFor(h, input.id);
      await eventually('the status search attribute', async () => ((await statusOf(workflowId)).get(StatusAttr) === 'waiting-for-approval' ? true : undefined));
      await handle.executeUpdate(approveUpdate, { args: [decider('bob', 'fine')] });
    });
    // The workers stopped and new ones start: the waiting workflow is replayed and goes on as it was.
    const result = await h.run(async () => {
      const refused = await handle.executeUpdate(approveUpdate, { args: [decider('requester')] }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'NotAnApprover' });
      const outsider = await handle.executeUpdate(rejectUpdate, { args: [decider('mallory')] }).catch((e: unknown) => e);
      expect((outsider as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'NotAnApprover' });
      expect((await handle.query(approvalQuery)).approvals.map((d) => d.name)).toEqual(['bob']);
      const state = await handle.executeUpdate(approveUpdate, { args: [decider('carol')] });
      expect(state).toMatchObject({ waiting: false, requiredApprovals: 2 });
      return handle.result();
    });
    expect(result).toEqual({ status: 'succeeded' });
    expect(h.callsFor(input.id).map((c) => [c.activity, c.step ?? c.status, c.message])).toEqual([
      ['setDeploymentStatus', 'running', undefined],
      ['getSource', 0, undefined],
      ['installDependencies', 1, undefined],
      ['previewForApproval', 2, undefined],
      ['requestApproval', 3, undefined],
      ['setDeploymentStatus', 'waiting-for-approval', undefined],
      ['approvalNotice', 3, 'Waiting for 2 approval(s) of: 1 to create. [deployment_approval_requested]'],
      ['recordDecision', 3, 'approve bob'],
      ['recordDecision', 3, 'approve carol'],
      ['approvalNotice', 3, 'Approved by bob, carol. [deployment_approval_approved]'],
      ['setDeploymentStatus', 'running', undefined],
      ['applyApproved', 4, undefined],
      ['setDeploymentStatus', 'succeeded', undefined],
      ['cleanupWorkspace', undefined, undefined],
    ]);
    // Outgoing hooks hear of the request and the decision, besides the deployment's own events.
    expect(h.published.map((e) => e.kind).filter((k) => k.startsWith('deployment_approval'))).toEqual(['deployment_approval_requested', 'deployment_approval_approved']);
    expect(stepNames(settings, 'update')).toEqual(['Get source', 'Install dependencies', 'Preview for approval', 'Approval', 'Pulumi operation']);
    // Other operations do not wait.
    expect(stepNames(settings, 'preview')).toEqual(['Get source', 'Install dependencies', 'Pulumi operation']);
    if (RECORD) await recordHistory('deployment-approved', workflowId);
  });

  test('a rejection fails the deployment with its comment and applies nothing', async () => {
    const h = harness();
    const input = newInput(newStack(), 1, settings);
    const workflowId = `deployment-test-${input.id}`;
    const result = await h.run(async () => {
      const handle = await env.client.workflow.start(deployment, { taskQueue: h.taskQueue, workflowId, args: [input] });
      await waitingFor(h, input.id);
      await handle.executeUpdate(rejectUpdate, { args: [decider('carol', 'not today')] });
      const late = await handle.executeUpdate(approveUpdate, { args: [decider('bob')] }).catch((e: unknown) => e);
      expect((late as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'NotWaiting' });
      return handle.result();
    });
    expect(result).toEqual({ status: 'failed', message: 'Rejected by carol: not today' });
    expect(h.callsFor(input.id).some((c) => c.activity === 'applyApproved')).toBe(false);
    if (RECORD) await recordHistory('deployment-rejected', workflowId);
  });

  test('time-skipping: reminders fire at their lead times, then the approval times out', async () => {
    const skipping = await createTimeSkipping();
    try {
      // The deployment workflow keeps its status in a search attribute, which the server must know.
      await skipping.connection.operatorService.addSearchAttributes({
        namespace: skipping.namespace ?? 'default',
        searchAttributes: { [StatusAttr.name]: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
      });
      const h = harness({}, () => skipping);
      const timed: DeploymentSettings = { operationContext: { options: { requireApproval: { approvalTimeout: '72h', reminders: ['1h', '24h'] } } } };
      const input = newInput(newStack(), 1, timed);
      const notices = () => h.callsFor(input.id).filter((c) => c.activity === 'approvalNotice').map((c) => c.message);
      const result = await h.run(async () => {
        const handle = await skipping.client.workflow.start(deployment, { taskQueue: h.taskQueue, workflowId: `deployment-test-${input.id}`, args: [input] });
        await waitingFor(h, input.id);
        await eventually('requested', () => (notices().length === 1 ? true : undefined));
        await skipping.sleep('47h');
        expect(notices()).toHaveLength(1);
        await skipping.sleep('2h');
        await eventually('the 24h reminder', () => (notices().length === 2 ? true : undefined));
        await skipping.sleep('21h');
        expect(notices()).toHaveLength(2);
        await skipping.sleep('2h');
        await eventually('the 1h reminder', () => (notices().length >= 3 ? true : undefined));
        return handle.result();
      });
      expect(result).toEqual({ status: 'failed', message: 'Failed: approval timed out after 72h (0 of 1 approval(s)).' });
      expect(notices()).toEqual([
        'Waiting for 1 approval(s) of: 1 to create. [deployment_approval_requested]',
        'Reminder: still waiting for approval; it times out in 24h.',
        'Reminder: still waiting for approval; it times out in 1h.',
        'Approval timed out.',
      ]);
      expect(h.callsFor(input.id).some((c) => c.activity === 'applyApproved')).toBe(false);
    } finally {
      await skipping.teardown();
    }
  });
});

describe('chain', () => {
  // A → B, A → C, B → D: B and C in the first wave, D in the second.
  const waves: ChainStep[][] = [
    [
      { project: 'website', stack: 'b', upstreams: [{ key: 'website/a', when: 'succeeded' }] },
      { project: 'website', stack: 'c', upstreams: [{ key: 'website/a', when: 'succeeded' }] },
    ],
    [{ project: 'website', stack: 'd', upstreams: [{ key: 'website/b', when: 'succeeded' }] }],
  ];
  const root = (): ChainInput => ({ org: 'acme', project: 'website', stack: 'a', deploymentId: `root-${randomUUID()}`, version: 1 });

  /** Links' deployments end as `outcome` says; one that is 'hold' waits (heartbeating) until cancelled, then fails. */
  function chainHarness(outcome: Record<string, 'succeeded' | 'failed' | 'hold'>) {
    const log: string[] = [];
    const waits = new Map<string, number>();
    const h = harness({
      hookActivities: {
        chainPlan: async () => waves,
        queueChainLink: async (link) => {
          log.push(`queue ${link.stack} after ${link.upstreams.map((u) => u.deploymentId.replace(/^root-.*/, 'root')).join(',')}`);
          return { id: `dep-${link.stack}`, version: 1 };
        },
        awaitDeployment: async (id) => {
          const stack = id.replace(/^dep-/, '');
          const n = (waits.get(id) ?? 0) + 1;
          waits.set(id, n);
          if (id.startsWith('root-')) return { status: 'succeeded', resourceChanges: { create: 1 } };
          if (outcome[stack] === 'hold' && n === 1) {
            for (;;) {
              Context.current().heartbeat();
              await Context.current().sleep(100);
            }
          }
          await sleep(stack === 'c' ? 300 : 50);
          const status = outcome[stack] === 'hold' ? 'failed' : outcome[stack];
          log.push(`${stack} ${status}`);
          return { status };
        },
        cancelChainDeployment: async (_ref, id) => void log.push(`cancel ${id}`),
      },
    });
    return { h, log };
  }

  test('deploys wave by wave: B and C after A, D after B, each with its upstream', async () => {
    const { h, log } = chainHarness({ b: 'succeeded', c: 'succeeded', d: 'succeeded' });
    const input = root();
    const workflowId = chainWorkflowId('acme', input.deploymentId);
    const result = await h.run(() => env.client.workflow.execute(chain, { taskQueue: h.taskQueue, workflowId, args: [input] }));
    expect(result.status).toBe('succeeded');
    expect(result.links.map((l) => [l.stack, l.wave, l.status, l.deploymentId])).toEqual([
      ['b', 1, 'succeeded', 'dep-b'],
      ['c', 1, 'succeeded', 'dep-c'],
      ['d', 2, 'succeeded', 'dep-d'],
    ]);
    // D is queued only once both of the first wave ended (the wave is one step of the DAG).
    expect(log.indexOf('queue d after dep-b')).toBeGreaterThan(log.indexOf('c succeeded'));
    expect(log.slice(0, 2).sort()).toEqual(['queue b after root', 'queue c after root']);
    if (RECORD) await recordHistory('chain-succeeded', workflowId);
  });

  test('a failed link stops the rest of its wave and every later one; the chain fails', async () => {
    const { h, log } = chainHarness({ b: 'failed', c: 'hold', d: 'succeeded' });
    const input = root();
    const workflowId = chainWorkflowId('acme', input.deploymentId);
    await h.run(async () => {
      const handle = await env.client.workflow.start(chain, { taskQueue: h.taskQueue, workflowId, args: [input] });
      await expect(handle.result()).rejects.toThrow();
      const state = await handle.query(chainStateQuery);
      expect(state.links.map((l) => [l.stack, l.status])).toEqual([
        ['b', 'failed'],
        ['c', 'cancelled'],
        ['d', 'skipped'],
      ]);
      expect((await handle.describe()).status.name).toBe('FAILED');
    });
    expect(log).toContain('cancel dep-c');
    expect(log.some((l) => l.startsWith('queue d'))).toBe(false);
    if (RECORD) await recordHistory('chain-failed', workflowId);
  });

  test('a successful update publishes its events and starts the chain of its dependents', async () => {
    const started: string[] = [];
    const h = harness({ hookActivities: { hasDependents: async () => true, chainPlan: async () => (started.push('plan'), []), awaitDeployment: async () => ({ status: 'succeeded' }) } });
    const input = newInput(newStack(), 1);
    await h.run(async () => {
      await env.client.workflow.execute(deployment, { taskQueue: h.taskQueue, workflowId: `d-${input.id}`, args: [input] });
      const c = await env.client.workflow.getHandle(chainWorkflowId(input.org, input.id)).result();
      expect(c.status).toBe('succeeded');
    });
    expect(h.published.map((e) => e.kind)).toEqual(['deployment_started', 'deployment_succeeded', 'update_succeeded']);
    expect(h.published[0]).toMatchObject({ organization: input.org, project: input.project, stack: input.stack, deploymentId: input.id });
    expect(started).toEqual(['plan']);
    if (RECORD) await recordHistory('deployment-hook-events', `d-${input.id}`);
  });

  test('a hook delivery retries a failing receiver with backoff and gives up after its attempts', async () => {
    const attempts: number[] = [];
    const h = harness({
      hookActivities: {
        deliverHook: async () => {
          attempts.push(Context.current().info.attempt);
          if (attempts.length < 3) throw ApplicationFailure.retryable('receiver answered 500');
          return true;
        },
      },
    });
    await h.run(async () => {
      const ok = await env.client.workflow.execute(hookDelivery, {
        taskQueue: h.taskQueue,
        workflowId: `hook-${randomUUID()}`,
        args: [{ deliveryId: 'x', retry: { initialIntervalMs: 50, maximumAttempts: 7 } }],
      });
      expect(ok).toBe(true);
    });
    expect(attempts).toEqual([1, 2, 3]);
  });
});

describe('replay', () => {
  test('recorded histories replay without nondeterminism', async () => {
    const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(expect.arrayContaining(['deployment-succeeded.json', 'stack-queue.json']));
    const histories = files.map((f) => ({
      workflowId: `replay-${f.replace(/\.json$/, '')}`,
      history: historyFromJson(JSON.parse(readFileSync(join(HISTORIES, f), 'utf8'))),
    }));
    const results: { workflowId: string; error?: unknown }[] = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle, replayName: 'stackwright-replay' }, histories)) {
      results.push({ workflowId: r.workflowId, error: r.error });
    }
    expect(results).toEqual(histories.map((h) => ({ workflowId: h.workflowId, error: undefined })));
  });
});

describe('reviewStack', () => {
  const template = { org: 'acme', project: 'website', stack: 'pr' };
  const reviewInput = (n: number): ReviewStackInput => ({
    template,
    review: { ...template, stack: `pr-pr-${n}` },
    provider: 'github',
    repository: 'acme/website',
    pullRequest: n,
    baseBranch: 'main',
  });
  const push = (commit: string): ReviewPush => ({ commit, headBranch: 'feature', ttlHours: 7 * 24 });

  /** Mocked review activities; `destroyResults` are the statuses of successive destroys. */
  function reviewActivities(destroyResults: string[]) {
    const calls: string[] = [];
    let destroys = 0;
    const activities: ReviewStackActivities = {
      deployReviewStack: async (_input, p) => {
        calls.push(`update ${p.commit}`);
        return { id: `u-${p.commit}`, version: 1 };
      },
      queueReviewDestroy: async (_input, reason, attempt) => {
        calls.push(`destroy ${attempt} (${reason})`);
        return { id: `d-${++destroys}`, version: 2 };
      },
      deploymentStatus: async (id) => (id.startsWith('d-') ? ((destroyResults[Number(id.slice(2)) - 1] ?? 'succeeded') as DeploymentStatus) : 'succeeded'),
      markReviewStack: async (_ref, state) => void calls.push(`state ${state}`),
      removeStack: async ({ stack }) => {
        calls.push(`remove ${stack}`);
        return `removed ${stack}`;
      },
      reportReviewRemoved: async (_input, reason) => void calls.push(`report removed (${reason})`),
    };
    return { calls, activities };
  }

  test('pushes update the review stack once per commit; a close destroys, retries a failed destroy, then removes it; a second close changes nothing', async () => {
    const skipping = await createTimeSkipping();
    try {
      const taskQueue = `review-${randomUUID()}`;
      const { calls, activities } = reviewActivities(['failed', 'succeeded']);
      const worker = await Worker.create({ connection: skipping.nativeConnection, taskQueue, workflowBundle, activities });
      await worker.runUntil(async () => {
        const workflowId = `review-test-${randomUUID()}`;
        const handle = await skipping.client.workflow.signalWithStart(reviewStack, { taskQueue, workflowId, args: [reviewInput(7)], signal: reviewPushSignal, signalArgs: [push('a1')] });
        await eventually('first update', () => (calls.includes('update a1') ? true : undefined));
        await handle.signal(reviewPushSignal, push('a1'));
        await handle.signal(reviewPushSignal, push('b2'));
        await eventually('second update', () => (calls.includes('update b2') ? true : undefined));
        await handle.signal(reviewCloseSignal, { merged: true });
        await handle.signal(reviewCloseSignal, { merged: true });
        expect(await handle.result()).toEqual({ reason: 'merged', destroyAttempts: 2 });
        expect(calls).toEqual([
          'update a1',
          'update b2',
          'destroy 1 (merged)',
          'state destroy-failed',
          'destroy 2 (merged)',
          'remove pr-pr-7',
          'state removed',
          'report removed (merged)',
        ]);
        if (RECORD) await writeHistory(skipping.client, HISTORIES, 'review-stack', workflowId);
      });
    } finally {
      await skipping.teardown();
    }
  });

  test('the time to live tears down a review stack nobody pushed to or closed', async () => {
    const skipping = await createTimeSkipping();
    try {
      const taskQueue = `review-ttl-${randomUUID()}`;
      const { calls, activities } = reviewActivities([]);
      const worker = await Worker.create({ connection: skipping.nativeConnection, taskQueue, workflowBundle, activities });
      await worker.runUntil(async () => {
        const workflowId = `review-ttl-${randomUUID()}`;
        const started = Date.now();
        const handle = await skipping.client.workflow.signalWithStart(reviewStack, { taskQueue, workflowId, args: [reviewInput(8)], signal: reviewPushSignal, signalArgs: [push('c3')] });
        // Six days on, a push: the time to live counts from it.
        await eventually('update', () => (calls.includes('update c3') ? true : undefined));
        await skipping.sleep('6 days');
        expect(calls).toEqual(['update c3']);
        await handle.signal(reviewPushSignal, push('d4'));
        expect(await handle.result()).toEqual({ reason: 'ttl', destroyAttempts: 1 });
        expect(calls).toEqual(['update c3', 'update d4', 'destroy 1 (ttl)', 'remove pr-pr-8', 'state removed', 'report removed (ttl)']);
        const closed = (await handle.describe()).closeTime!.getTime();
        expect(closed - started).toBeGreaterThanOrEqual(13 * 24 * 3600 * 1000);
        if (RECORD) await writeHistory(skipping.client, HISTORIES, 'review-stack-ttl', workflowId);
      });
    } finally {
      await skipping.teardown();
    }
  });
});
