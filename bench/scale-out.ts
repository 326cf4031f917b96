/**
 * `npm run bench:scale-out`: throughput of one worker against two. A dev server, one API and one
 * or two workers (each its own process and data dir, as on separate machines) deploy
 * BENCH_STACKS stacks (default 6) at once, each an update of the test program whose resource takes
 * BENCH_DELAY_MS (default 5000) to create; prints the wall time of each round and deployments per
 * minute. Stacks deploy in parallel (a stack runs one deployment at a time), so more workers share them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { resolveTools } from '../src/tools';
import { freePort, startDevServer } from '../src/dev-server';
import { connectWithRetry } from '../src/temporal-wait';
import { createProgramRepo } from '../test/helpers/repo';

const STACKS = Number(process.env.BENCH_STACKS ?? 6);
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 5000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function round(workerCount: number): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'stackwright-bench-scale-'));
  const outDir = join(root, 'out');
  mkdirSync(outDir, { mode: 0o777 });
  chmodSync(outDir, 0o777);
  const state = join(root, 'state');
  mkdirSync(state, { mode: 0o777 });
  chmodSync(state, 0o777);
  const repo = createProgramRepo('website');
  const children: ChildProcess[] = [];
  const dev = await startDevServer({ temporalCli: resolveTools().temporalCli, dataDir: root, port: await freePort(), namespace: 'default', ui: false });
  children.push(dev.child);
  try {
    await (await connectWithRetry(dev.address)).close();
    const token = randomBytes(24).toString('base64url');
    const port = await freePort();
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: dev.address,
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
    };
    const main = join(__dirname, '..', 'src', 'main.ts');
    for (let i = 0; i < workerCount; i++) {
      children.push(spawn(process.execPath, [...process.execArgv, main, 'worker'], { env: { ...env, STACKWRIGHT_DATA_DIR: join(root, `worker-${i}`) }, stdio: ['ignore', 'ignore', 'inherit'] }));
    }
    children.push(spawn(process.execPath, [...process.execArgv, main, 'api'], { env: { ...env, STACKWRIGHT_DATA_DIR: join(root, 'api') }, stdio: ['ignore', 'ignore', 'inherit'] }));
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; !(await fetch(`${base}/healthz`).then((r) => r.ok, () => false)); i++) {
      if (i > 600) throw new Error('the API did not come up');
      await sleep(100);
    }
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(base + path, { method, headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return (await res.json()) as { id: string; status: string };
    };
    const stacks = Array.from({ length: STACKS }, (_, i) => `/api/stacks/bench/website/s${i}`);
    const start = Date.now();
    const ids = await Promise.all(
      stacks.map((s) =>
        call('POST', `${s}/deployments`, {
          operation: 'update',
          sourceContext: { git: { repoURL: repo.url, branch: 'refs/heads/main' } },
          operationContext: { environmentVariables: { OUT_DIR: join(outDir, s.replace(/\W/g, '_')), CREATE_DELAY_MS: String(DELAY_MS) } },
        }),
      ),
    );
    for (const [i, d] of ids.entries()) {
      for (;;) {
        const got = await call('GET', `${stacks[i]}/deployments/${d.id}`);
        if (['succeeded', 'failed', 'skipped'].includes(got.status)) {
          if (got.status !== 'succeeded') throw new Error(`deployment ${d.id} ended ${got.status}`);
          break;
        }
        await sleep(250);
      }
    }
    return Date.now() - start;
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const results: [number, number][] = [];
  for (const workers of [1, 2]) results.push([workers, await round(workers)]);
  console.log(`\n${STACKS} stacks deployed at once (resource create ${DELAY_MS} ms each):`);
  for (const [w, ms] of results) console.log(`  ${w} worker(s): ${(ms / 1000).toFixed(1)} s, ${((STACKS * 60_000) / ms).toFixed(1)} deployments/min`);
  console.log(`  speed-up with two workers: ${(results[0][1] / results[1][1]).toFixed(2)}x`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
