/**
 * Throughput of one worker against two: one API and one or two workers (each its own process and
 * data dir, as on separate machines, sharing one Pulumi backend) deploy `stacks` stacks at once, each
 * an update of the test program whose resource takes `delayMs` to create. Each worker runs at most
 * two deployments at once (STACKWRIGHT_MAX_CONCURRENT_DEPLOYMENTS), so the figure does not depend on
 * the CPU count. `npm run bench` prints it among its figures; `npm run bench:scale-out` alone
 * (BENCH_STACKS, default 6; BENCH_DELAY_MS, default 5000).
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { resolveTools } from '../src/tools';
import { freePort, startDevServer } from '../src/dev-server';
import { connectWithRetry } from '../src/temporal-wait';
import { createProgramRepo } from '../test/helpers/repo';
import { startRole, waitForApi } from './roles';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Throughput {
  stacks: number;
  delayMs: number;
  /** Wall time of the round with one worker, then with two. */
  oneMs: number;
  twoMs: number;
}

/** One round: `workerCount` workers deploy `stacks` stacks at once; returns its wall time. */
async function round(temporalAddress: string, workerCount: number, stacks: number, delayMs: number): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'stackwright-bench-scale-'));
  const writable = (dir: string) => (mkdirSync(dir, { mode: 0o777 }), chmodSync(dir, 0o777), dir);
  const outDir = writable(join(root, 'out'));
  const state = writable(join(root, 'state'));
  const repo = createProgramRepo('website');
  const children: ChildProcess[] = [];
  try {
    const token = randomBytes(24).toString('base64url');
    const port = await freePort();
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress,
      STACKWRIGHT_TASK_QUEUE: `bench-scale-${randomUUID()}`,
      STACKWRIGHT_DATABASE_URL: join(root, 'stackwright.db'),
      STACKWRIGHT_SECRETS_KEY: randomBytes(32).toString('base64'),
      STACKWRIGHT_TOKEN: token,
      PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString('hex'),
      // One backend for every worker, as separate machines would share one.
      PULUMI_BACKEND_URL: `file://${state}`,
      STACKWRIGHT_PORT: String(port),
      STACKWRIGHT_LOG_LEVEL: 'warn',
      STACKWRIGHT_ALLOW_LOCAL_REPOS: 'true',
      STACKWRIGHT_SANDBOX_BINDS: `${outDir},${state}`,
      STACKWRIGHT_MAX_CONCURRENT_DEPLOYMENTS: '2',
      STACKWRIGHT_NPM_CACHE: join(root, 'npm-cache'),
    };
    for (let i = 0; i < workerCount; i++) children.push(startRole('worker', { ...env, STACKWRIGHT_DATA_DIR: join(root, `worker-${i}`) }));
    children.push(startRole('api', { ...env, STACKWRIGHT_DATA_DIR: join(root, 'api') }));
    const base = `http://127.0.0.1:${port}`;
    await waitForApi(base);
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(base + path, { method, headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return (await res.json()) as { id: string; status: string; message?: string };
    };
    const deploy = (s: string, delay: number) =>
      call('POST', `${s}/deployments`, {
        operation: 'update',
        sourceContext: { git: { repoURL: repo.url, branch: 'refs/heads/main' } },
        operationContext: { environmentVariables: { OUT_DIR: join(outDir, s.replace(/\W/g, '_')), CREATE_DELAY_MS: String(delay) } },
      });
    // A deployment that never ends (one nobody takes, say) fails the round instead of hanging it.
    const ended = async (s: string, id: string) => {
      for (const deadline = Date.now() + 10 * 60_000; ; ) {
        const got = await call('GET', `${s}/deployments/${id}`);
        if (Date.now() > deadline) throw new Error(`deployment ${id} of ${s} is still ${got.status} after 10 minutes`);
        if (['succeeded', 'failed', 'skipped'].includes(got.status)) {
          if (got.status !== 'succeeded') throw new Error(`deployment ${id} ended ${got.status}: ${got.message}`);
          return;
        }
        await sleep(250);
      }
    };
    // Not counted: fills the npm cache and lets every worker bundle its workflows.
    // Stack names differ per round: a stack's queue workflow of the previous round (its own task
    // queue, whose workers are gone) would otherwise take this round's deployments.
    await Promise.all(Array.from({ length: workerCount }, (_, i) => `/api/stacks/bench/website/w${workerCount}-warmup${i}`).map(async (s) => ended(s, (await deploy(s, 0)).id)));
    const paths = Array.from({ length: stacks }, (_, i) => `/api/stacks/bench/website/w${workerCount}-s${i}`);
    const start = Date.now();
    const ids = await Promise.all(paths.map((s) => deploy(s, delayMs)));
    await Promise.all(paths.map((s, i) => ended(s, ids[i].id)));
    return Date.now() - start;
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}

/** The same `stacks` deployments with one worker process, then with two, on the Temporal at `temporalAddress`. */
export async function workerThroughput(temporalAddress: string, stacks: number, delayMs: number): Promise<Throughput> {
  const oneMs = await round(temporalAddress, 1, stacks, delayMs);
  const twoMs = await round(temporalAddress, 2, stacks, delayMs);
  return { stacks, delayMs, oneMs, twoMs };
}

export const perMinute = (t: Throughput, ms: number) => ((t.stacks * 60_000) / ms).toFixed(1);

async function main(): Promise<void> {
  const stacks = Number(process.env.BENCH_STACKS ?? 6);
  const delayMs = Number(process.env.BENCH_DELAY_MS ?? 5000);
  const root = mkdtempSync(join(tmpdir(), 'stackwright-bench-scale-dev-'));
  const dev = await startDevServer({ temporalCli: resolveTools().temporalCli, dataDir: root, port: await freePort(), namespace: 'default', ui: false });
  try {
    await (await connectWithRetry(dev.address)).close();
    const t = await workerThroughput(dev.address, stacks, delayMs);
    console.log(`\n${stacks} stacks deployed at once (resource create ${delayMs} ms each, 2 deployments at once per worker):`);
    console.log(`  1 worker:  ${(t.oneMs / 1000).toFixed(1)} s, ${perMinute(t, t.oneMs)} deployments/min`);
    console.log(`  2 workers: ${(t.twoMs / 1000).toFixed(1)} s, ${perMinute(t, t.twoMs)} deployments/min`);
    console.log(`  speed-up with two workers: ${(t.oneMs / t.twoMs).toFixed(2)}x`);
  } finally {
    dev.child.kill('SIGKILL');
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
