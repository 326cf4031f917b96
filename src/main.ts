import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig, parseEnv, PRIVATE_ENV, type Config } from './config';
import { createLogger } from './logger';
import { resolveTools } from './tools';
import { startDevServer } from './dev-server';
import { connectClient, connectWorker, registerSearchAttributes } from './temporal';
import { openDatabase } from './store/db';
import { Store } from './store/store';
import { apiDeps, createApp } from './api/app';
import { startReconciler } from './deployments/reconciler';
import { createWorkers, runWorkers, sessionQueueOf } from './worker';
import { Supervisor } from './supervisor';
import { guardProcess } from './process-guard';
import { reclaimSteps } from './reclaim-steps';
import { codecKeys, codecPathToken } from './codec/payload-codec';
import { temporalAccess } from './temporal-connection';
import { requireSharedConfig } from './shared-config';
import { checkSecretsKey } from './secrets-key-check';
import { PoolGatewayClient } from './activities/pool-gateway-client';
import { workerId } from './worker-identity';
import { deploymentState } from './reclaim-steps';
import { setupTemporal } from './temporal-setup';

const log = createLogger();

/** `main.ts api`: the HTTP API alone. */
async function runApi(config: Config): Promise<void> {
  const address = requireTemporal(config);
  const store = new Store(await openDatabase(config.databaseUrl));
  await checkSecretsKey(store.db, config.secretsKey);
  const temporal = await connectClient(address, config.TEMPORAL_NAMESPACE, codecKeys(config.secretsKey, config.STACKWRIGHT_CODEC_KEYS), temporalAccess(config));
  const app = createApp(apiDeps(config, store, temporal, log));
  const server = serve({ fetch: app.fetch, hostname: config.STACKWRIGHT_HOST, port: config.STACKWRIGHT_PORT }, () =>
    log.info(`API listening on ${config.publicUrl}`),
  );
  // Deployments whose workflow closed without an outcome (terminated from the UI, timed out) are failed.
  const reconciler = startReconciler({ store, temporal, log });
  // A failed listen (port taken) is fatal: exiting lets the supervisor try again.
  server.once('error', (err) => {
    log.fatal({ err }, 'API server failed');
    process.exit(1);
  });
  let stopping = false;
  onStopRequest(() => {
    if (stopping) return;
    stopping = true;
    server.close(
      () =>
        void reconciler
          .stop()
          .then(() => temporal.connection.close())
          .then(() => store.db.destroy())
          .finally(() => process.exit(0)),
    );
    // Live log streams would hold the server open; their clients resume from their last event id.
    setTimeout(() => (server as Server).closeAllConnections(), 5_000).unref();
  });
}

/** `main.ts worker`: runs deployments. */
async function runWorker(config: Config): Promise<void> {
  const address = requireTemporal(config);
  // Signals are handled below (drain), not by the SDK.
  Runtime.install({
    logger: new DefaultLogger(config.STACKWRIGHT_LOG_LEVEL === 'debug' || config.STACKWRIGHT_LOG_LEVEL === 'trace' ? 'DEBUG' : 'WARN'),
    shutdownSignals: [],
  });
  // Pulumi's Automation API hands this process's environment to every deployment.
  for (const name of PRIVATE_ENV) delete process.env[name];
  if (config.STACKWRIGHT_SANDBOX === 'off') warnUnsandboxed();
  else checkSandboxTools();
  const pool = config.STACKWRIGHT_POOL;
  // A runner pool's worker never opens the store: it may run where only Temporal is reachable.
  const store = pool ? undefined : new Store(await openDatabase(config.databaseUrl));
  if (store) await checkSecretsKey(store.db, config.secretsKey);
  const access = temporalAccess(config);
  const client = await connectClient(address, config.TEMPORAL_NAMESPACE, codecKeys(config.secretsKey, config.STACKWRIGHT_CODEC_KEYS), access);
  if (store) await registerSearchAttributes(client, config.TEMPORAL_NAMESPACE);
  const gateway = pool ? new PoolGatewayClient(client, config.STACKWRIGHT_TASK_QUEUE, pool, workerId(config.dataDir)) : undefined;
  if (gateway) announcePoolWorker(gateway, pool);
  const connection = await connectWorker(address, access);
  const workers = await createWorkers({ connection, store, gateway, config });
  let draining = false;
  onStopRequest(() => {
    if (draining) {
      log.warn('stopping now: running deployments are recovered by the next worker');
      process.exit(1);
    }
    draining = true;
    log.info({ drainSeconds: config.STACKWRIGHT_DRAIN_SECONDS }, 'draining: taking no new steps, letting running ones finish (signal again to stop now)');
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  });
  log.info({ sessionQueue: sessionQueueOf(config), pool: config.STACKWRIGHT_POOL }, 'worker running');
  const deployment = store ? deploymentState(store) : gateway && ((id: string) => gateway.deploymentState(id));
  if (deployment) reclaimSteps({ client, deployment, dataDir: config.dataDir, log }).catch((err: unknown) =>
    log.warn({ err }, 'could not check for steps left by a previous run of this worker'),
  );
  await runWorkers(workers);
  log.info('worker stopped');
  await client.connection.close();
  await connection.close();
  await store?.db.destroy();
  // The supervisor's IPC channel and Temporal's native runtime would keep the process alive.
  process.exit(0);
}

/**
 * The pool's listing shows when its workers started. Through the gateway, which answers only once
 * the main queue's workers run with the same secrets key (their codec opens the request): said
 * loudly when that takes long, but the worker keeps serving.
 */
function announcePoolWorker(gateway: PoolGatewayClient, pool: string | undefined): void {
  const slow = setTimeout(
    () => log.warn({ pool }, 'the pool gateway has not answered for 60 s: are the main workers running, with the same STACKWRIGHT_SECRETS_KEY?'),
    60_000,
  );
  slow.unref();
  gateway
    .workerStarted()
    .then(() => log.info({ pool, gateway: gateway.workflowId }, 'pool worker recorded through the gateway'))
    .catch((err: unknown) => log.warn({ err, pool }, 'could not record the pool worker through the gateway'))
    .finally(() => clearTimeout(slow));
}

/**
 * Calls `stop` on SIGTERM or SIGINT, each time one arrives, and once the supervisor is gone (its IPC
 * channel closes), so a role never outlives the group that started it.
 */
function onStopRequest(stop: () => void): void {
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (process.send) process.once('disconnect', stop);
}

/** `main.ts` (npm start): dev server when needed, then worker and API, each restarted when it crashes. */
async function runAll(config: Config): Promise<void> {
  const supervisor = new Supervisor(log);
  // The worker drains first while the API still serves; the dev server goes last.
  const order = [['worker'], ['api'], ['temporal']];
  let signals = 0;
  const stop = () => {
    const force = ++signals > 1;
    log.info(force ? 'stopping now' : 'stopping: the worker drains first (signal again to stop now)');
    void supervisor.stop(order, force).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  let address = config.TEMPORAL_ADDRESS;
  let uiUrl = config.STACKWRIGHT_TEMPORAL_UI_URL;
  if (!address) {
    const temporalCli = resolveTools().temporalCli;
    await supervisor.add({
      name: 'temporal',
      stopTimeoutMs: 15_000,
      // Restarted on the same SQLite file: workflows carry on where they were.
      start: async () => {
        const dev = await startDevServer({
          temporalCli,
          dataDir: config.dataDir,
          port: config.STACKWRIGHT_TEMPORAL_PORT,
          namespace: config.TEMPORAL_NAMESPACE,
          detached: true,
          // The UI decodes payloads through the API (the path carries a codec-only token, not the API token).
          codecEndpoint: `${config.publicUrl}/codec/${codecPathToken(config.secretsKey)}`,
        });
        address = dev.address;
        uiUrl ??= dev.uiUrl;
        return dev.child;
      },
    });
  }
  const env = { ...process.env, TEMPORAL_ADDRESS: address, STACKWRIGHT_TOKEN: config.token, ...(uiUrl ? { STACKWRIGHT_TEMPORAL_UI_URL: uiUrl } : {}) };
  const drainMs = (config.STACKWRIGHT_DRAIN_SECONDS + config.STACKWRIGHT_KILL_GRACE_SECONDS + 90) * 1000;
  for (const [role, stopTimeoutMs] of [['worker', drainMs], ['api', 15_000]] as const) {
    await supervisor.add({
      name: role,
      stopTimeoutMs,
      // Its own process group: only the supervisor signals it (a Ctrl-C would reach Pulumi too). The
      // IPC channel tells it when the supervisor is gone.
      start: async () =>
        spawn(process.execPath, [...process.execArgv, __filename, role], { env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'], detached: true }),
    });
  }
  console.log(
    [
      '',
      `  Stackwright API   ${config.publicUrl}`,
      `  Temporal UI       ${uiUrl ?? '(external Temporal: see its own UI)'}`,
      `  API token         ${config.token}`,
      `  Data directory    ${config.dataDir}`,
      '',
    ].join('\n'),
  );
}

/** Loud, because every deployment can then read Stackwright's secrets and reach its services. */
function warnUnsandboxed(): void {
  const bar = '!'.repeat(100);
  log.warn(
    [bar, 'STACKWRIGHT_SANDBOX=off: deployments run as Stackwright itself, unsandboxed. Their programs, install scripts and',
      'pre-run commands can read the API token, the secrets key, the database and every stack\'s state, and reach the', 'Temporal frontend. Use it only where every deployment\'s code is trusted.', bar].join('\n'),
  );
}

/** The sandbox needs bubblewrap, slirp4netns (and util-linux); fail at start-up rather than at the first deployment. */
function checkSandboxTools(): void {
  const missing = ['bwrap', 'slirp4netns', 'setpriv', 'unshare'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length) throw new ConfigError(`the deployment sandbox needs ${missing.join(', ')} (Debian: apt-get install bubblewrap slirp4netns util-linux); or set STACKWRIGHT_SANDBOX=off`);
}

function requireTemporal(config: Config): string {
  if (!config.TEMPORAL_ADDRESS) throw new ConfigError('TEMPORAL_ADDRESS is required when running a single role');
  return config.TEMPORAL_ADDRESS;
}

/** `main.ts setup-temporal`: the namespace and search attributes on a self-hosted Temporal (temporal/README.md). */
async function runSetupTemporal(): Promise<void> {
  const e = parseEnv();
  if (!e.TEMPORAL_ADDRESS) throw new ConfigError('TEMPORAL_ADDRESS is required for setup-temporal');
  const retentionDays = Number(process.env.TEMPORAL_RETENTION_DAYS ?? 30);
  // It writes no payloads: any key will do for the codec.
  const client = await connectClient(e.TEMPORAL_ADDRESS, e.TEMPORAL_NAMESPACE, codecKeys(randomBytes(32)), temporalAccess(e));
  await setupTemporal(client, e.TEMPORAL_NAMESPACE, retentionDays);
  log.info({ namespace: e.TEMPORAL_NAMESPACE, retentionDays }, 'Temporal namespace and search attributes ready');
  await client.connection.close();
}

async function main(): Promise<void> {
  const role = process.argv[2] ?? 'all';
  guardProcess(log, role);
  if (role === 'setup-temporal') return runSetupTemporal();
  // A role started alone (not by `npm start`) may be one of many machines: nothing shared is generated.
  const env = parseEnv();
  const pool = role === 'worker' && env.STACKWRIGHT_POOL;
  if ((role === 'api' || role === 'worker') && !process.send) requireSharedConfig(env, pool ? 'pool-worker' : role);
  if (pool && env.STACKWRIGHT_DATABASE_URL) {
    throw new ConfigError('STACKWRIGHT_DATABASE_URL: a runner pool worker (STACKWRIGHT_POOL) never opens the store (its store work goes through Temporal); unset it');
  }
  const config = loadConfig();
  if (config.STACKWRIGHT_POOL && role !== 'worker') throw new ConfigError('STACKWRIGHT_POOL names the runner pool of a worker: start it with `main.ts worker`');
  if (role === 'api') return runApi(config);
  if (role === 'worker') return runWorker(config);
  if (role === 'all') return runAll(config);
  throw new ConfigError(`unknown role '${role}': use api, worker or nothing (all)`);
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? `stackwright: ${err.message}` : err);
  process.exit(1);
});
