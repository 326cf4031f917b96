import { Worker, type NativeConnection } from '@temporalio/worker';
import { createReviewStackActivities, createSharedActivities, createWorkspaceActivities, type ActivityDeps, type WorkspaceDeps } from './activities';
import type { PoolGatewayClient } from './activities/pool-gateway-client';
import { poolGatewayActivities } from './activities/pool-gateway';
import type { Config } from './config';
import type { Store } from './store/store';
import { SecretBox } from './secret-box';
import { resolveTools } from './tools';
import { PROCESS_IDENTITY, workerId } from './worker-identity';
import { codecKeys, dataConverter } from './codec/payload-codec';
import { dependencyCache, packageCaches } from './activities/package-caches';
import { Client } from '@temporalio/client';
import { hookRetry } from './deployments/hook-events';
import { oidcIssuer } from './state/oidc-issuer';
import { createPoolActivities } from './activities/pool';
import { poolQueue } from './shared/pools';

export interface WorkerOptions {
  connection: NativeConnection;
  /** The store; a runner pool's worker (STACKWRIGHT_POOL) has none and is given `gateway` instead. */
  store?: Store;
  gateway?: PoolGatewayClient;
  config: Config;
  /** Prebuilt workflow bundle (tests bundle once); otherwise the workflows are bundled at start. */
  workflowBundle?: { code: string };
}

/**
 * Options of the session worker. A cancel reaches a running step only in a heartbeat response, and
 * by default heartbeats are throttled to 80% of the heartbeat timeout (48 s for the steps' 1 minute).
 */
export const SESSION_WORKER_OPTIONS = { maxHeartbeatThrottleInterval: '1 second' } as const;

/**
 * A Stackwright worker is two Temporal workers: one on the shared task queue (workflows and
 * store activities) and one on a queue of its own, where a deployment's steps run next to the
 * files they share.
 */
export async function createWorkers(o: WorkerOptions): Promise<Worker[]> {
  const taskQueue = o.config.STACKWRIGHT_TASK_QUEUE;
  const sessionQueue = sessionQueueOf(o.config);
  const sandboxOn = o.config.STACKWRIGHT_SANDBOX === 'on';
  const caches = packageCaches(o.config.STACKWRIGHT_NPM_CACHE, sandboxOn);
  const pool = o.config.STACKWRIGHT_POOL;
  const base: Omit<ActivityDeps, 'store'> = {
    box: new SecretBox(o.config.secretsKey),
    dataDir: o.config.dataDir,
    pulumiRoot: resolveTools().pulumiRoot,
    pulumiBackendUrl: o.config.PULUMI_BACKEND_URL,
    pulumiPassphrase: o.config.pulumiPassphrase,
    secretsKey: o.config.secretsKey,
    allowLocalRepos: o.config.STACKWRIGHT_ALLOW_LOCAL_REPOS,
    sandbox: sandboxOn ? { binds: o.config.STACKWRIGHT_SANDBOX_BINDS, packageCaches: caches.npm ? [caches.npm] : [] } : undefined,
    packageCaches: caches,
    dependencyCache: dependencyCache(o.config.dataDir, o.config.STACKWRIGHT_DEPENDENCY_CACHE_MAX_MB),
    publicUrl: o.config.publicUrl,
    taskQueue,
    sessionQueue,
    killGraceMs: o.config.STACKWRIGHT_KILL_GRACE_SECONDS * 1000,
    pulumiIdleTimeoutMs: o.config.STACKWRIGHT_PULUMI_IDLE_TIMEOUT_SECONDS * 1000,
    pulumiMaxDurationMs: o.config.STACKWRIGHT_PULUMI_MAX_DURATION_SECONDS * 1000,
    retryInterrupted: o.config.STACKWRIGHT_RETRY_INTERRUPTED,
    temporal: new Client({
      connection: o.connection,
      namespace: o.config.TEMPORAL_NAMESPACE,
      dataConverter: dataConverter(codecKeys(o.config.secretsKey, o.config.STACKWRIGHT_CODEC_KEYS)),
    }),
    hooks: { retry: hookRetry(o.config.STACKWRIGHT_HOOK_RETRY_SECONDS), allowPrivate: o.config.STACKWRIGHT_WEBHOOK_ALLOW_PRIVATE },
    report: {
      githubApiUrl: o.config.STACKWRIGHT_GITHUB_API_URL,
      githubToken: o.config.STACKWRIGHT_GITHUB_TOKEN,
      gitlabApiUrl: o.config.STACKWRIGHT_GITLAB_API_URL,
      gitlabToken: o.config.STACKWRIGHT_GITLAB_TOKEN,
    },
  };
  // A runner pool's worker reaches only Temporal: its steps' store work goes through its gateway.
  const store = pool ? undefined : required(o.store, 'a worker needs the store');
  const storeDeps: ActivityDeps | undefined = store && { ...base, store, oidc: oidcIssuer(o.config, store) };
  const deps: ActivityDeps | WorkspaceDeps = storeDeps ?? { ...base, workspaceStore: required(o.gateway, 'a runner pool worker needs its gateway') };
  const drainMs = o.config.STACKWRIGHT_DRAIN_SECONDS * 1000;
  const common = {
    connection: o.connection,
    namespace: o.config.TEMPORAL_NAMESPACE,
    identity: PROCESS_IDENTITY,
    // On shutdown, running steps may finish (drain); then they are cancelled, which stops Pulumi
    // gracefully (SIGINT, then a kill after the kill grace); past that the worker gives up.
    shutdownGraceTime: drainMs,
    shutdownForceTime: drainMs + deps.killGraceMs + 60_000,
    // Nothing reaches Temporal in clear: inputs, results, signals, queries, memos.
    dataConverter: dataConverter(codecKeys(o.config.secretsKey, o.config.STACKWRIGHT_CODEC_KEYS)),
  };
  return Promise.all([
    // A runner pool's worker takes only its pool's deployments: no workflows, no main queue.
    !storeDeps ? Worker.create({ ...common, taskQueue: poolQueue(taskQueue, pool ?? ''), activities: createPoolActivities(deps) }) : Worker.create({
      ...common,
      taskQueue,
      ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath: require.resolve('./workflows') }),
      // Idle workflows (a TTL stack's timer) need not stay in memory: an evicted one is replayed from its short history when its timer fires.
      maxCachedWorkflows: o.config.STACKWRIGHT_MAX_CACHED_WORKFLOWS,
      // Runner pools' workers reach the store through their gateway workflows' activity.
      activities: { ...createSharedActivities(storeDeps), ...createReviewStackActivities(storeDeps), ...poolGatewayActivities(storeDeps) },
    }),
    Worker.create({
      ...common,
      ...SESSION_WORKER_OPTIONS,
      taskQueue: sessionQueue,
      // A deployment runs one step at a time here, so step slots are deployments running at once.
      maxConcurrentActivityTaskExecutions: o.config.STACKWRIGHT_MAX_CONCURRENT_DEPLOYMENTS,
      activities: createWorkspaceActivities(deps),
    }),
  ]);
}

function required<T>(v: T | undefined, why: string): T {
  if (v === undefined) throw new Error(why);
  return v;
}

/** The task queue of this data directory's worker: the same after a restart. */
export const sessionQueueOf = (config: Pick<Config, 'STACKWRIGHT_TASK_QUEUE' | 'dataDir'>): string =>
  `${config.STACKWRIGHT_TASK_QUEUE}/${workerId(config.dataDir)}`;

/** Runs workers until one stops (or fails); stops the others then. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  const runs = workers.map((w) => w.run());
  try {
    await Promise.race(runs);
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(runs);
  }
}
