import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { ActivityDeps } from './context';
import type { PublishedEvent } from '../shared/hooks';
import { chainWaves, type ChainInput, type ChainLinkInput, type ChainStep } from '../shared/chain';
import type { StackRef } from '../shared/names';
import { TERMINAL, type DeploymentStatus } from '../shared/deployment';
import { publishHookEvent, type HookDeps } from '../deployments/hook-events';
import { attemptDelivery } from '../deployments/hook-delivery';
import { queueStoredUpdate } from '../deployments/stored-update';
import { cancelDeployment } from '../deployments/queue-control';
import { HookStore } from '../store/hooks';

function hookDeps(deps: ActivityDeps): HookDeps {
  if (!deps.temporal || !deps.hooks) throw ApplicationFailure.nonRetryable('this worker publishes no hook events (no Temporal client)', 'HooksUnavailable');
  return {
    store: deps.store,
    temporal: deps.temporal,
    taskQueue: deps.taskQueue,
    publicUrl: deps.publicUrl,
    hooks: deps.hooks,
    log: { error: (meta, message) => log.error(message, { ...meta }) },
  };
}

/**
 * Publishes an event the calling activity records (a TTL warning): once per activity, however often
 * it is retried. A worker without hooks configured publishes nothing.
 */
export async function publishFromActivity(deps: ActivityDeps, event: PublishedEvent): Promise<void> {
  if (!deps.temporal || !deps.hooks) return;
  const { workflowExecution: run, activityId } = Context.current().info;
  await publishHookEvent(hookDeps(deps), event, `${run?.workflowId}/${run?.runId}/${activityId}`);
}

/** Where a deployment a chain is waiting for ended. */
export interface DeploymentEnd {
  status: DeploymentStatus;
  message?: string;
  resourceChanges?: Record<string, number>;
}

/** Activities of outgoing webhooks and chains; any worker runs them. */
export function createHookActivities(deps: ActivityDeps) {
  return {
    /**
     * The one way workflows publish an event to hooks: `kind` is the event's filter name
     * (`update_succeeded`, `deployment_approval_requested`, ...). Records a delivery for each hook that
     * wants it and starts its delivery workflow; never waits for a receiver. A retried call sends nothing twice.
     */
    async publishEvent(event: PublishedEvent): Promise<void> {
      hookDeps(deps);
      await publishFromActivity(deps, event);
    },

    /** One attempt of a delivery; throws (for Temporal to retry with backoff) while the receiver fails. */
    async deliverHook(deliveryId: string): Promise<boolean> {
      const r = await attemptDelivery({ ...hookDeps(deps), box: deps.box }, deliveryId, Context.current().info.attempt);
      if (r.retryable) throw ApplicationFailure.retryable(`delivery ${deliveryId} failed: ${r.delivery?.responseCode} ${r.delivery?.responseBody.slice(0, 200)}`, 'HookDeliveryFailed');
      return r.ok;
    },

    /** Whether an update of this stack starts a chain. */
    async hasDependents(ref: StackRef): Promise<boolean> {
      const key = `${ref.project}/${ref.stack}`;
      return (await new HookStore(deps.store.db).dependentEdges(ref.org)).some((e) => e.from === key);
    },

    /** The chain's waves, as the dependents are declared now. */
    async chainPlan(root: ChainInput): Promise<ChainStep[][]> {
      return chainWaves(`${root.project}/${root.stack}`, await new HookStore(deps.store.db).dependentEdges(root.org));
    },

    /** Queues a dependent's update, telling it which upstream deployments it follows. */
    async queueChainLink(link: ChainLinkInput): Promise<{ id: string; version: number }> {
      const env = {
        PULUMI_CI_UPSTREAM_DEPLOYMENT_ID: link.upstreams.map((u) => u.deploymentId).join(','),
        PULUMI_CI_UPSTREAM_VERSION: link.upstreams.map((u) => u.version).join(','),
        PULUMI_CI_UPSTREAM_STACK: link.upstreams.map((u) => u.stack).join(','),
        PULUMI_CI_UPSTREAM_ROOT_DEPLOYMENT_ID: link.root.deploymentId,
        PULUMI_CI_UPSTREAM_ROOT_STACK: `${link.root.org}/${link.root.project}/${link.root.stack}`,
        PULUMI_CI_UPSTREAM_CHAIN_ID: link.chainId,
      };
      const r = await queueStoredUpdate(hookDeps(deps), link, { initiator: 'chain', requestedBy: `chain of ${link.root.deploymentId}`, env }).catch((err: unknown) => {
        throw ApplicationFailure.nonRetryable(err instanceof Error ? err.message : String(err), 'ChainLinkNotQueued');
      });
      return { id: r.id, version: r.version };
    },

    /** Waits (heartbeating) until a deployment ends; a cancelled wait returns at the next heartbeat. */
    async awaitDeployment(id: string): Promise<DeploymentEnd> {
      for (;;) {
        const d = await deps.store.getDeploymentById(id);
        if (d && TERMINAL.includes(d.status)) return { status: d.status, message: d.message ?? undefined, resourceChanges: (d.resourceChanges ?? undefined) as Record<string, number> | undefined };
        Context.current().heartbeat();
        await Context.current().sleep(1000);
      }
    },

    /** Stops a chain's deployment (a cancelled or failed chain). */
    cancelChainDeployment: (ref: StackRef, id: string) => cancelDeployment(hookDeps(deps), ref, id),
  };
}
