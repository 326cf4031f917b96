import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { serve } from '@hono/node-server';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig, PRIVATE_ENV, type Config } from './config';
import { createLogger } from './logger';
import { resolveTools } from './tools';
import { startDevServer } from './dev-server';
import { connectClient, connectWorker, registerSearchAttributes } from './temporal';
import { openDatabase } from './store/db';
import { Store } from './store/store';
import { apiDeps, createApp } from './api/app';
import { createWorkers, runWorkers } from './worker';
import { codecKeys, codecPathToken } from './codec/payload-codec';

const log = createLogger();

/** `main.ts api`: the HTTP API alone. */
async function runApi(config: Config): Promise<void> {
  const address = requireTemporal(config);
  const store = new Store(await openDatabase(config.databaseUrl));
  const temporal = await connectClient(address, config.TEMPORAL_NAMESPACE, codecKeys(config.secretsKey, config.STACKWRIGHT_CODEC_KEYS));
  const app = createApp(apiDeps(config, store, temporal, log));
  const server = serve({ fetch: app.fetch, hostname: config.STACKWRIGHT_HOST, port: config.STACKWRIGHT_PORT }, () =>
    log.info(`API listening on ${config.publicUrl}`),
  );
  const stop = () => server.close(() => void temporal.connection.close().then(() => store.db.destroy()));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** `main.ts worker`: runs deployments. */
async function runWorker(config: Config): Promise<void> {
  const address = requireTemporal(config);
  Runtime.install({ logger: new DefaultLogger(config.STACKWRIGHT_LOG_LEVEL === 'debug' || config.STACKWRIGHT_LOG_LEVEL === 'trace' ? 'DEBUG' : 'WARN') });
  // Pulumi's Automation API hands this process's environment to every deployment.
  for (const name of PRIVATE_ENV) delete process.env[name];
  if (config.STACKWRIGHT_SANDBOX === 'off') warnUnsandboxed();
  else checkSandboxTools();
  const store = new Store(await openDatabase(config.databaseUrl));
  const client = await connectClient(address, config.TEMPORAL_NAMESPACE, codecKeys(config.secretsKey, config.STACKWRIGHT_CODEC_KEYS));
  await registerSearchAttributes(client, config.TEMPORAL_NAMESPACE);
  await client.connection.close();
  const connection = await connectWorker(address);
  const workers = await createWorkers({
    connection,
    store,
    config,
  });
  log.info('worker running');
  await runWorkers(workers);
  await connection.close();
  await store.db.destroy();
}

/** `main.ts` (npm start): dev server when needed, then worker and API as one supervised group. */
async function runAll(config: Config): Promise<void> {
  const roles: ChildProcess[] = [];
  let devServer: ChildProcess | undefined;
  let stopping = false;
  // Worker and API first, so they never see the server vanish under them; the dev server last.
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await terminate(roles);
    if (devServer) await terminate([devServer]);
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  let address = config.TEMPORAL_ADDRESS;
  let uiUrl = config.STACKWRIGHT_TEMPORAL_UI_URL;
  if (!address) {
    const dev = await startDevServer({
      temporalCli: resolveTools().temporalCli,
      dataDir: config.dataDir,
      port: config.STACKWRIGHT_TEMPORAL_PORT,
      namespace: config.TEMPORAL_NAMESPACE,
      // The UI decodes payloads through the API (the path carries a codec-only token, not the API token).
      codecEndpoint: `${config.publicUrl}/codec/${codecPathToken(config.secretsKey)}`,
    });
    devServer = dev.child;
    dev.child.once('exit', () => void stop(1));
    address = dev.address;
    uiUrl ??= dev.uiUrl;
  }
  const env = { ...process.env, TEMPORAL_ADDRESS: address, STACKWRIGHT_TOKEN: config.token, ...(uiUrl ? { STACKWRIGHT_TEMPORAL_UI_URL: uiUrl } : {}) };
  for (const role of ['worker', 'api']) {
    const child = spawn(process.execPath, [...process.execArgv, __filename, role], { env, stdio: 'inherit' });
    child.once('exit', (code) => {
      if (!stopping) log.error(`${role} exited with code ${code}; stopping`);
      void stop(1);
    });
    roles.push(child);
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

/** SIGTERM, then SIGKILL whatever is still running after 15 s. */
async function terminate(children: ChildProcess[]): Promise<void> {
  const live = children.filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = live.map((c) => new Promise((r) => c.once('exit', r)));
  live.forEach((c) => c.kill('SIGTERM'));
  const force = setTimeout(() => live.forEach((c) => c.kill('SIGKILL')), 15_000);
  await Promise.all(exited);
  clearTimeout(force);
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

async function main(): Promise<void> {
  const role = process.argv[2] ?? 'all';
  const config = loadConfig();
  if (role === 'api') return runApi(config);
  if (role === 'worker') return runWorker(config);
  if (role === 'all') return runAll(config);
  throw new ConfigError(`unknown role '${role}': use api, worker or nothing (all)`);
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? `stackwright: ${err.message}` : err);
  process.exit(1);
});
