import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { bundleWorkflowCode, DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { connectClient, connectWorker } from '../../src/temporal';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import { apiDeps, createApp } from '../../src/api/app';
import { createWorkers, runWorkers } from '../../src/worker';
import type { Client } from '@temporalio/client';
import { codecKeys } from '../../src/codec/payload-codec';

export interface Stackwright {
  url: string;
  token: string;
  config: Config;
  store: Store;
  temporal: Client;
  /** Stops the worker gracefully, then starts a new one on the same task queue, as a redeploy would. */
  restartWorker(): Promise<void>;
  /** fetch against the API with the token set. */
  api(path: string, init?: ApiInit): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/**
 * The real thing, in-process: API on a random port, a worker on its own task queue, the shared
 * dev server from global-setup, a fresh data dir, the built pulumi CLI.
 */
export async function startStackwright(env: Record<string, string> = {}, opts: { worker?: boolean } = {}): Promise<Stackwright> {
  quietTemporal();
  const address = process.env.STACKWRIGHT_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('global-setup did not start Temporal');
  const config = loadConfig({
    STACKWRIGHT_DATA_DIR: mkdtempSync(join(tmpdir(), 'stackwright-data-')),
    // The test programs live in local repositories and write their files to newOutDir()s.
    STACKWRIGHT_ALLOW_LOCAL_REPOS: 'true',
    // Programs may link Stackwright's own node_modules (read-only) instead of installing.
    STACKWRIGHT_SANDBOX_BINDS: `${outRoot()},${join(__dirname, '..', '..', 'node_modules')}:ro`,
    // Each deployment installs the test program's packages: from a cache, not from the registry each time.
    STACKWRIGHT_NPM_CACHE: join(homedir(), '.cache', 'stackwright', 'test-npm-cache'),
    STACKWRIGHT_TASK_QUEUE: `test-${randomUUID()}`,
    STACKWRIGHT_LOG_LEVEL: 'warn',
    TEMPORAL_ADDRESS: address,
    ...env,
  });
  const log = createLogger('warn');
  const store = new Store(await openDatabase(config.databaseUrl));
  const temporal = await connectClient(address, config.TEMPORAL_NAMESPACE, codecKeys(config.secretsKey, config.STACKWRIGHT_CODEC_KEYS));
  const connection = await connectWorker(address);
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger });
  const newWorkers = () => (opts.worker === false ? Promise.resolve([]) : createWorkers({ connection, store, config, workflowBundle }));
  let workers: Worker[] = await newWorkers();
  // runWorkers would wait forever on no workers.
  const runAll = (ws: Worker[]) => (ws.length ? runWorkers(ws) : Promise.resolve());
  let running = runAll(workers);
  const stopWorkers = async () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
  };
  const app = createApp({ ...apiDeps(config, store, temporal, log), publicUrl: 'http://stackwright.test' });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    token: config.token,
    config,
    store,
    temporal,
    async restartWorker() {
      await stopWorkers();
      workers = await newWorkers();
      running = runAll(workers);
    },
    api: (path, init) => callApi(url, config.token, path, init),
    async stop() {
      await new Promise((r) => server.close(r));
      await stopWorkers();
      await connection.close();
      await temporal.connection.close();
      await store.db.destroy();
    },
  };
}

export type ApiInit = { method?: string; body?: unknown; token?: string | null };

/** fetch against an API at `url`, with `token` unless `init.token` says otherwise; JSON bodies parsed. */
export async function callApi(url: string, token: string, path: string, init: ApiInit = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (init.token !== null) headers.Authorization = `token ${init.token ?? token}`;
  const res = await fetch(url + path, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

let outs: string | undefined;
/** One directory per test process under which deployments may write (STACKWRIGHT_SANDBOX_BINDS). */
export function outRoot(): string {
  if (!outs) {
    outs = mkdtempSync(join(tmpdir(), 'stackwright-outs-'));
    chmodSync(outs, 0o777);
  }
  return outs;
}

/** A fresh directory a sandboxed deployment can write to (its OUT_DIR). */
export function newOutDir(): string {
  const dir = mkdtempSync(join(outRoot(), 'out-'));
  chmodSync(dir, 0o777);
  return dir;
}

/** The SDK logs every worker state change at INFO; tests only want warnings. */
function quietTemporal(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    /* already installed in this test file */
  }
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

/** Polls a deployment until it reaches a terminal status. */
export async function waitForDeployment(sw: Pick<Stackwright, 'api'>, stackPath: string, id: string, timeoutMs = 240_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await sw.api(`${stackPath}/deployments/${id}`);
    if (['succeeded', 'failed', 'skipped'].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`deployment ${id} still ${body.status}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Reads a deployment's whole log (or all of it after `from`) through the stream-mode API. */
export async function readAllLogs(sw: Pick<Stackwright, 'api'>, stackPath: string, id: string, from?: string): Promise<any[]> {
  const lines: any[] = [];
  let token = from;
  for (let i = 0; i < 1000; i++) {
    const q = token ? `?continuationToken=${token}` : '';
    const { body } = await sw.api(`${stackPath}/deployments/${id}/logs${q}`);
    lines.push(...body.lines);
    if (!body.nextToken) return lines;
    if (body.nextToken === token) await new Promise((r) => setTimeout(r, 200));
    token = body.nextToken;
  }
  throw new Error('log stream did not end');
}

/** A worker in its own process (`src/main.ts worker`) on this Stackwright's data dir and task queue. */
export function startWorkerProcess(sw: Stackwright): ChildProcess {
  // node itself with tsx's loader (not the tsx CLI, which runs the program in a second process): a
  // signal sent to this child reaches the worker.
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'src', 'main.ts'), 'worker'], {
    cwd: join(__dirname, '..', '..'),
    env: {
      ...process.env,
      STACKWRIGHT_DATA_DIR: sw.config.STACKWRIGHT_DATA_DIR,
      STACKWRIGHT_TASK_QUEUE: sw.config.STACKWRIGHT_TASK_QUEUE,
      STACKWRIGHT_KILL_GRACE_SECONDS: String(sw.config.STACKWRIGHT_KILL_GRACE_SECONDS),
      STACKWRIGHT_LOG_LEVEL: 'warn',
      STACKWRIGHT_ALLOW_LOCAL_REPOS: 'true',
      STACKWRIGHT_SANDBOX_BINDS: sw.config.STACKWRIGHT_SANDBOX_BINDS.map((b) => b.path).join(','),
      STACKWRIGHT_SECRETS_KEY: sw.config.secretsKey.toString('base64'),
      ...(sw.config.STACKWRIGHT_NPM_CACHE && { STACKWRIGHT_NPM_CACHE: sw.config.STACKWRIGHT_NPM_CACHE }),
      TEMPORAL_ADDRESS: process.env.STACKWRIGHT_TEST_TEMPORAL_ADDRESS,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}
