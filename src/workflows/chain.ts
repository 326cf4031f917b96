import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowFailure,
  ParentClosePolicy,
  defineQuery,
  defineSignal,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { chainWorkflowId, type ChainInput, type ChainLinkInput, type ChainLinkState, type ChainState, type ChainStep } from '../shared/chain';

export const chainStateQuery = defineQuery<ChainState>('chainState');
/** Sent by a link to its chain once its deployment is queued. */
export const linkQueuedSignal = defineSignal<[{ key: string; id: string; version: number }]>('linkQueued');

const acts = proxyActivities<SharedActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 5, maximumInterval: '10 seconds' } });
/** Waiting for a deployment lasts as long as the deployment; heartbeats carry a cancel to it. */
const waiter = proxyActivities<SharedActivities>({ startToCloseTimeout: '25 hours', heartbeatTimeout: '30 seconds', retry: { maximumInterval: '10 seconds' } });

interface LinkResult {
  id: string;
  version: number;
  status: string;
  message?: string;
  resourceChanges?: Record<string, number>;
}

const changedAny = (rc?: Record<string, number>) => Object.entries(rc ?? {}).some(([k, n]) => k !== 'same' && n > 0);

/**
 * The stacks that depend on an updated stack, deployed wave by wave (workflow id chain/<org>/<update id>):
 * each wave's stacks in parallel as child workflows, a stack after all of its upstreams. When one
 * fails, the rest of its wave is stopped and no later wave starts; cancelling the chain stops all of it.
 */
export async function chain(root: ChainInput): Promise<ChainState> {
  // From the input, not workflowInfo(): the links' ids must replay the same under any workflow id.
  const chainId = chainWorkflowId(root.org, root.deploymentId);
  const top = CancellationScope.current();
  const state: ChainState = { status: 'running', links: [] };
  const link = (key: string) => state.links.find((l) => `${l.project}/${l.stack}` === key)!;
  setHandler(chainStateQuery, () => state);
  setHandler(linkQueuedSignal, ({ key, id, version }) => void Object.assign(link(key), { deploymentId: id, version }));
  const waves = await acts.chainPlan(root);
  state.links = waves.flatMap((w, i) => w.map((s): ChainLinkState => ({ project: s.project, stack: s.stack, wave: i + 1, status: 'pending' })));

  const rootEnd = await acts.awaitDeployment(root.deploymentId);
  const done = new Map<string, LinkResult>([[`${root.project}/${root.stack}`, { id: root.deploymentId, version: root.version, ...rootEnd }]]);

  const runLink = async (s: ChainStep, scope: CancellationScope): Promise<void> => {
    const key = `${s.project}/${s.stack}`;
    const l = link(key);
    const ups = s.upstreams.filter((u) => done.get(u.key)?.status === 'succeeded' && (u.when === 'succeeded' || changedAny(done.get(u.key)?.resourceChanges)));
    if (ups.length === 0) {
      Object.assign(l, { status: 'skipped', message: 'No upstream deployment met its condition.' });
      return;
    }
    const input: ChainLinkInput = {
      chainId,
      org: root.org,
      project: s.project,
      stack: s.stack,
      upstreams: ups.map((u) => ({ stack: `${root.org}/${u.key}`, deploymentId: done.get(u.key)!.id, version: done.get(u.key)!.version })),
      root,
    };
    l.status = 'running';
    try {
      const r = await executeChild(chainLink, { workflowId: `${chainId}/${key}`, args: [input], parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL });
      done.set(key, r);
      Object.assign(l, { status: r.status === 'succeeded' ? 'succeeded' : 'failed', deploymentId: r.id, version: r.version, message: r.message });
    } catch (err) {
      const cancelled = isCancellation(err) || (err instanceof ChildWorkflowFailure && isCancellation(err.cause));
      Object.assign(l, { status: cancelled ? 'cancelled' : 'failed', message: cancelled ? 'Cancelled with the chain.' : failureText(err) });
      if (cancelled && scope.consideredCancelled) return;
    }
    // A failure stops the rest of its wave.
    if ((l.status as string) !== 'succeeded') scope.cancel();
  };

  try {
    for (const wave of waves) {
      const scope = new CancellationScope();
      await scope.run(() => Promise.all(wave.map((s) => runLink(s, scope)))).catch((err: unknown) => {
        if (!isCancellation(err) || !scope.consideredCancelled) throw err;
      });
      if (top.consideredCancelled) throw new CancelledFailure('The chain was cancelled.');
      const failed = state.links.filter((l) => l.status === 'failed' || l.status === 'cancelled');
      if (failed.length) {
        for (const l of state.links) if (l.status === 'pending') Object.assign(l, { status: 'skipped', message: 'Not run: an earlier stack of the chain failed.' });
        state.status = 'failed';
        const what = failed.map((l) => `${root.org}/${l.project}/${l.stack}${l.message ? ` (${l.message})` : ''}`).join(', ');
        throw ApplicationFailure.nonRetryable(`The chain failed: ${what}.`, 'ChainFailed');
      }
    }
  } catch (err) {
    if (isCancellation(err)) {
      state.status = 'cancelled';
      for (const l of state.links) if (l.status === 'pending' || l.status === 'running') Object.assign(l, { status: 'cancelled', message: 'Cancelled with the chain.' });
    }
    throw err;
  }
  state.status = 'succeeded';
  return state;
}

/** One stack of a chain: queues its update in the stack's own queue and follows it to its end. */
export async function chainLink(input: ChainLinkInput): Promise<LinkResult> {
  const { id, version } = await acts.queueChainLink(input);
  await getExternalWorkflowHandle(input.chainId)
    .signal(linkQueuedSignal, { key: `${input.project}/${input.stack}`, id, version })
    .catch(() => undefined);
  try {
    return { id, version, ...(await waiter.awaitDeployment(id)) };
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // The chain was stopped: stop this stack's deployment too, and end once it has.
    await CancellationScope.nonCancellable(async () => {
      await acts.cancelChainDeployment(input, id);
      await waiter.awaitDeployment(id);
    });
    throw err;
  }
}

function failureText(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) e = (e as { cause?: unknown }).cause;
  return e instanceof Error ? e.message : String(err);
}
