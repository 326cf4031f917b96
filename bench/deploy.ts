/**
 * `npm run bench`: what Stackwright costs next to the same work done by hand. A Temporal dev server,
 * a worker and the API run as separate processes (as `npm start` runs them); the test program is
 * deployed (A) through the API and (B) by hand with the same git, install command, pulumi binary,
 * backend kind and environment. One run prints every figure with its goal and whether it is met:
 * cold A/B (no mirror, no node_modules cache), warm A against `pulumi up` alone and against cold A,
 * trigger → first log line, the queue hand-off, 20 stacks at once against one after another on one
 * worker (with the worker's peak RSS), BENCH_SCALE_STACKS (default 6) stacks at once on one worker process
 * against two (bench/scale-out.ts), and the API's latency under load on a seeded SQLite store.
 * BENCH_PAIRS (default 3) runs per figure, BENCH_STACKS (default 20); BENCH_ONLY=idle-ttl measures
 * idle TTL stacks instead (BENCH_IDLE_TTL=1 adds that to the full run), BENCH_ONLY=api only the API
 * under load (see bench/api-load.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { resolveTools } from '../src/tools';
import { freePort, startDevServer } from '../src/dev-server';
import { connectWithRetry } from '../src/temporal-wait';
import { installCommand } from '../src/activities/install';
import { createProgramRepo } from '../test/helpers/repo';
import { idleTtl } from './idle-ttl';
import { apiLoad, type RouteLatency } from './api-load';
import { startRole, waitForApi } from './roles';
import { perMinute, workerThroughput } from './scale-out';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const STACKS = Number(process.env.BENCH_STACKS ?? 20);
/** How many idle TTL stacks the worker is measured holding; BENCH_ONLY=idle-ttl measures only that. */
const TTL_STACKS = Number(process.env.BENCH_TTL_STACKS ?? 1000);
/** Stacks deployed at once with one worker process, then with two (BENCH_SCALE_STACKS, BENCH_SCALE_DELAY_MS). */
const SCALE_STACKS = Number(process.env.BENCH_SCALE_STACKS ?? 6);
const SCALE_DELAY_MS = Number(process.env.BENCH_SCALE_DELAY_MS ?? 5000);
const STACK = 'dev';
const TERMINAL = ['succeeded', 'failed', 'skipped'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
// The API prints created/modified as Pulumi does: "2024-01-01 10:00:00.123", UTC without a zone.
const pulumiTime = (t: string) => Date.parse(`${t.replace(' ', 'T')}Z`);

/** The parts of the API's deployment JSON the benchmark reads. */
interface Deployment {
  id: string;
  status: string;
  message?: string;
  modified: string;
  jobs: { started: string; steps: { name: string; started: string; lastUpdated: string }[] }[];
}

interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
}

function apiClient(base: string, token: string): Api {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return { get: (p) => call('GET', p), post: (p, b) => call('POST', p, b) } as Api;
}

/** Runs a command to completion; its output is kept only to explain a failure. */
function run(cmd: string, args: string[], o: { cwd?: string; env: NodeJS.ProcessEnv }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out.slice(-2000)}`))));
  });
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await f();
  return [performance.now() - t0, r];
}

interface ApiRun {
  total: number;
  firstLine: number;
  deployment: Deployment;
  /** Time spent before the first step, in each step, and after the last one. */
  phases: Record<string, number>;
}

/** A: one update through the API, timed from the POST until the API reports it ended. */
async function viaApi(api: Api, stack: string, greeting: string): Promise<ApiRun> {
  const wall0 = Date.now();
  const t0 = performance.now();
  const { id } = await api.post<{ id: string }>(`${stack}/deployments`, { operation: 'update', operationContext: { environmentVariables: { GREETING: greeting } } });
  let firstLine: number | undefined;
  for (;;) {
    if (firstLine === undefined) {
      const logs = await api.get<{ lines: { line?: string }[] }>(`${stack}/deployments/${id}/logs?count=20`);
      if (logs.lines.some((l) => l.line !== undefined)) firstLine = performance.now() - t0;
    }
    const d = await api.get<Deployment>(`${stack}/deployments/${id}`);
    if (TERMINAL.includes(d.status)) {
      const total = performance.now() - t0;
      if (d.status !== 'succeeded') throw new Error(`deployment ${id} ${d.status}: ${d.message}`);
      const steps = d.jobs[0].steps;
      const phases: Record<string, number> = { 'trigger → first step': Date.parse(steps[0].started) - wall0 };
      for (const s of steps) phases[s.name] = Date.parse(s.lastUpdated) - Date.parse(s.started);
      phases['between steps (sum)'] = steps.slice(1).reduce((sum, s, i) => sum + Date.parse(s.started) - Date.parse(steps[i].lastUpdated), 0);
      phases['last step → ended (API)'] = wall0 + total - Date.parse(steps.at(-1)!.lastUpdated);
      return { total, firstLine: firstLine ?? total, deployment: d, phases };
    }
    await sleep(firstLine === undefined ? 20 : 50);
  }
}

/** B: the same update by hand: clone, install, select the stack, `pulumi up`. */
async function byHand(dir: string, repoUrl: string, env: NodeJS.ProcessEnv, pulumi: string, greeting: string, remove = true) {
  const e = { ...env, GREETING: greeting };
  const phases: Record<string, number> = {};
  const t0 = performance.now();
  [phases['git clone']] = await timed(() => run('git', ['clone', '-q', '--depth', '1', '--branch', 'main', '--single-branch', '--', repoUrl, dir], { env: e }));
  const [cmd, args] = installCommand(dir)!;
  [phases[`${cmd} ${args[0]}`]] = await timed(() => run(cmd, args, { cwd: dir, env: e }));
  [phases['pulumi stack select']] = await timed(() => run(pulumi, ['stack', 'select', '--create', STACK, '--non-interactive'], { cwd: dir, env: e }));
  [phases['pulumi up']] = await timed(() => run(pulumi, ['up', '--yes', '--skip-preview', '--non-interactive', '--stack', STACK], { cwd: dir, env: e }));
  const total = performance.now() - t0;
  if (remove) rmSync(dir, { recursive: true, force: true });
  return { total, phases };
}

interface Figure {
  name: string;
  value: string;
  goal: string;
  met?: boolean;
}

const loadFigures = (load: RouteLatency[]): Figure[] =>
  load.map((l) => ({ name: `${l.route} p50 / p99`, value: `${l.p50} / ${l.p99} ms (${l.requests} requests, ${l.failures} failed)`, goal: 'p99 < 50 ms', met: l.p99 < 50 && l.failures === 0 }));

function printFigures(figures: Figure[]): void {
  console.log(`\nsummary (${availableParallelism()} CPUs, load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  for (const f of figures) console.log(`  ${f.name.padEnd(48)} ${f.value.padEnd(44)} ${f.goal.padEnd(22)} ${f.met === undefined ? '' : f.met ? 'met' : 'NOT met'}`);
}

/** The worker's resident memory, sampled until stopped; VmHWM is the process's lifetime peak. */
function rssSampler(pid: number) {
  const read = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, read('VmRSS'))), 250);
  return { stop: () => (clearInterval(timer), { peakMb: Math.max(peak, read('VmRSS')), hwmMb: read('VmHWM') }) };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'stackwright-bench-'));
  const tools = resolveTools();
  const pulumi = join(tools.pulumiRoot, 'bin', 'pulumi');
  const outDir = join(root, 'out');
  // Deployments run sandboxed as another user: give them the output directory.
  mkdirSync(outDir, { mode: 0o777 });
  chmodSync(outDir, 0o777);
  const passphrase = randomBytes(16).toString('hex');
  const repo = createProgramRepo('website');
  const children: ChildProcess[] = [];

  const dev = await startDevServer({ temporalCli: tools.temporalCli, dataDir: root, port: await freePort(), namespace: 'default', ui: false });
  children.push(dev.child);
  try {
    await (await connectWithRetry(dev.address)).close();
    if (process.env.BENCH_ONLY === 'api') {
      console.log(`${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; working in ${root}`);
      printFigures(loadFigures(await apiLoad({ root, temporalAddress: dev.address })));
      return;
    }
    const token = randomBytes(24).toString('base64url');
    const port = await freePort();
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: dev.address,
      STACKWRIGHT_DATA_DIR: join(root, 'stackwright'),
      STACKWRIGHT_PORT: String(port),
      STACKWRIGHT_TOKEN: token,
      STACKWRIGHT_LOG_LEVEL: 'warn',
      STACKWRIGHT_ALLOW_LOCAL_REPOS: 'true',
      STACKWRIGHT_SANDBOX_BINDS: outDir,
      // A shared npm download cache, as B has in HOME (deployments share none unless asked).
      STACKWRIGHT_NPM_CACHE: join(root, 'npm-cache'),
      PULUMI_CONFIG_PASSPHRASE: passphrase,
    };
    for (const role of ['worker', 'api'] as const) children.push(startRole(role, env));
    const workerPid = children[1].pid!;
    const base = `http://127.0.0.1:${port}`;
    await waitForApi(base);
    const api = apiClient(base, token);
    const configure = (stackPath: string, repoUrl: string) =>
      api.post(`${stackPath}/deployments/settings`, {
        sourceContext: { git: { repoURL: repoUrl, branch: 'refs/heads/main' } },
        operationContext: { environmentVariables: { OUT_DIR: join(outDir, stackPath.split('/').slice(3).join('-')) } },
      });
    const stack = `/api/stacks/bench/website/${STACK}`;
    await configure(stack, repo.url);

    if (process.env.BENCH_ONLY === 'idle-ttl') return await idleTtl({ post: api.post, workerPid, repoUrl: repo.url, count: TTL_STACKS });

    // What the deployment's steps get (src/activities/context.ts), with a backend of the same kind.
    const manual = join(root, 'manual');
    mkdirSync(join(manual, 'state'), { recursive: true });
    const handEnv: NodeJS.ProcessEnv = {
      PATH: `${join(tools.pulumiRoot, 'bin')}:${process.env.PATH}`,
      HOME: process.env.HOME,
      LANG: process.env.LANG ?? 'C.UTF-8',
      PULUMI_HOME: join(manual, 'pulumi-home'),
      PULUMI_BACKEND_URL: `file://${join(manual, 'state')}`,
      PULUMI_CONFIG_PASSPHRASE: passphrase,
      PULUMI_SKIP_UPDATE_CHECK: 'true',
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
      OUT_DIR: join(outDir, 'manual'),
    };
    console.log(`${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; working in ${root}`);

    // Warm-up (not counted): fills npm's download caches (A's STACKWRIGHT_NPM_CACHE, B's in HOME), lets the worker bundle its workflows.
    console.log('warming up ...');
    await configure(`/api/stacks/bench/warmup/${STACK}`, createProgramRepo('warmup').url);
    await viaApi(api, `/api/stacks/bench/warmup/${STACK}`, 'warm-up');
    await byHand(join(manual, 'warm-up'), repo.url, handEnv, pulumi, 'warm-up');

    // Cold: a repository and a project Stackwright has never seen (no mirror, no node_modules cache).
    const cold: { a: ApiRun; b: Awaited<ReturnType<typeof byHand>> }[] = [];
    console.log(`\ncold: ${PAIRS} pairs, each a new repository and project (A) against clone + install + select + up (B)`);
    console.log('pair   A (API)   B (by hand)   A/B');
    for (let i = 1; i <= PAIRS; i++) {
      const r = createProgramRepo(`cold${i}`);
      const path = `/api/stacks/bench/cold${i}/${STACK}`;
      await configure(path, r.url);
      const a = await viaApi(api, path, `cold ${i}`);
      mkdirSync(join(manual, `state-cold-${i}`));
      const b = await byHand(join(manual, `cold-${i}`), r.url, { ...handEnv, PULUMI_BACKEND_URL: `file://${join(manual, `state-cold-${i}`)}` }, pulumi, `cold ${i}`);
      cold.push({ a, b });
      console.log(`${String(i).padStart(4)}   ${fmt(a.total).padStart(7)}   ${fmt(b.total).padStart(11)}   ${(a.total / b.total).toFixed(3)}`);
    }

    // Warm: the same stack again (mirror and node_modules cache warm) against `pulumi up` alone in a prepared checkout.
    await viaApi(api, stack, 'prepare');
    const prepared = join(manual, 'prepared');
    await byHand(prepared, repo.url, handEnv, pulumi, 'prepare', false);
    const warm: { a: ApiRun; up: number }[] = [];
    console.log(`\nwarm: ${PAIRS} pairs, an unchanged lockfile through the API (A) against \`pulumi up\` alone`);
    console.log('pair   A (API)   pulumi up   A/up    A: trigger → first log line');
    for (let i = 1; i <= PAIRS; i++) {
      const a = await viaApi(api, stack, `warm ${i}`);
      const [up] = await timed(() => run(pulumi, ['up', '--yes', '--skip-preview', '--non-interactive', '--stack', STACK], { cwd: prepared, env: { ...handEnv, GREETING: `warm ${i}` } }));
      warm.push({ a, up });
      console.log(`${String(i).padStart(4)}   ${fmt(a.total).padStart(7)}   ${fmt(up).padStart(9)}   ${(a.total / up).toFixed(3)}   ${fmt(a.firstLine)}`);
    }
    const phaseMedians = (runs: Record<string, number>[]) => Object.keys(runs[0]).map((k) => `  ${k.padEnd(26)} ${fmt(median(runs.map((r) => r[k])))}`);
    console.log("\nmedian time per phase, cold A (from the deployment's step timestamps):");
    console.log(phaseMedians(cold.map((p) => p.a.phases)).join('\n'));
    console.log('median time per phase, cold B:');
    console.log(phaseMedians(cold.map((p) => p.b.phases)).join('\n'));
    console.log('median time per phase, warm A:');
    console.log(phaseMedians(warm.map((p) => p.a.phases)).join('\n'));

    // Two back to back: how long the second waits once the first has ended.
    const [first, second] = await Promise.all([
      api.post<{ id: string }>(`${stack}/deployments`, { operation: 'update', operationContext: { environmentVariables: { GREETING: 'queued 1' } } }),
      sleep(50).then(() => api.post<{ id: string }>(`${stack}/deployments`, { operation: 'update', operationContext: { environmentVariables: { GREETING: 'queued 2' } } })),
    ]);
    const ended = async (path: string, id: string) => {
      for (;;) {
        const d = await api.get<Deployment>(`${path}/deployments/${id}`);
        if (TERMINAL.includes(d.status)) {
          if (d.status !== 'succeeded') throw new Error(`deployment ${id} ${d.status}: ${d.message}`);
          return d;
        }
        await sleep(100);
      }
    };
    const d1 = await ended(stack, first.id);
    const d2 = await ended(stack, second.id);
    const queueWait = Date.parse(d2.jobs[0].started) - pulumiTime(d1.modified);
    const handOff = Date.parse(d2.jobs[0].steps[0].started) - Date.parse(d1.jobs[0].steps.at(-1)!.lastUpdated);

    // Throughput: STACKS new stacks of the (cached) project, one after another, then STACKS others at once.
    const stacks = async (prefix: string) => {
      const paths = Array.from({ length: STACKS }, (_, i) => `/api/stacks/bench/website/${prefix}${i + 1}`);
      for (const p of paths) await configure(p, repo.url);
      return paths;
    };
    const update = (p: string) => api.post<{ id: string }>(`${p}/deployments`, { operation: 'update' });
    console.log(`\nthroughput: ${STACKS} stacks one after another, then ${STACKS} others at once ...`);
    const seqPaths = await stacks('seq');
    const [sequential] = await timed(async () => {
      for (const p of seqPaths) await ended(p, (await update(p)).id);
    });
    const parPaths = await stacks('par');
    const rss = rssSampler(workerPid);
    const [parallel] = await timed(async () => {
      const ids = await Promise.all(parPaths.map(update));
      await Promise.all(parPaths.map((p, i) => ended(p, ids[i].id)));
    });
    const memory = rss.stop();
    console.log(`  one after another ${fmt(sequential)}, at once ${fmt(parallel)}; worker peak RSS ${memory.peakMb.toFixed(0)} MB (VmHWM ${memory.hwmMb.toFixed(0)} MB)`);

    console.log(`\nthroughput: ${SCALE_STACKS} stacks at once with one worker process, then with two ...`);
    const scale = await workerThroughput(dev.address, SCALE_STACKS, SCALE_DELAY_MS);
    console.log(`  one worker ${fmt(scale.oneMs)} (${perMinute(scale, scale.oneMs)}/min), two workers ${fmt(scale.twoMs)} (${perMinute(scale, scale.twoMs)}/min)`);

    console.log('\nAPI under load ...');
    const load = await apiLoad({ root, temporalAddress: dev.address });

    const coldAB = median(cold.map((p) => p.a.total / p.b.total));
    const warmUp = median(warm.map((p) => p.a.total / p.up));
    const warmCold = median(warm.map((p) => p.a.total)) / median(cold.map((p) => p.a.total));
    const firstLine = median(warm.map((p) => p.a.firstLine));
    const figures: Figure[] = [
      { name: 'cold A / B', value: coldAB.toFixed(3), goal: '<= 1.05', met: coldAB <= 1.05 },
      { name: 'warm A / pulumi up alone', value: warmUp.toFixed(3), goal: '<= 1.15', met: warmUp <= 1.15 },
      { name: 'warm A / cold A', value: warmCold.toFixed(3), goal: '<= 0.4', met: warmCold <= 0.4 },
      { name: 'trigger → first log line (warm)', value: fmt(firstLine), goal: '< 1 s', met: firstLine < 1000 },
      { name: 'queue hand-off (last step → next first step)', value: fmt(handOff), goal: '< 0.5 s', met: handOff < 500 },
      { name: '  (previous ended → next job started)', value: fmt(queueWait), goal: '' },
      { name: `${STACKS} stacks at once / one after another`, value: `${fmt(parallel)} / ${fmt(sequential)} = ${(parallel / sequential).toFixed(2)}`, goal: `< 1 (${availableParallelism()} CPUs)`, met: parallel < sequential },
      { name: `worker peak RSS, ${STACKS} stacks at once`, value: `${memory.peakMb.toFixed(0)} MB`, goal: 'reported' },
      {
        name: `${SCALE_STACKS} stacks at once: 1 worker / 2 workers`,
        value: `${fmt(scale.oneMs)} / ${fmt(scale.twoMs)} = ${(scale.oneMs / scale.twoMs).toFixed(2)}x`,
        goal: '> 1.3x (2 deployments/worker)',
        met: scale.oneMs / scale.twoMs > 1.3,
      },
      ...loadFigures(load),
    ];
    printFigures(figures);

    if (process.env.BENCH_IDLE_TTL === '1') await idleTtl({ post: api.post, workerPid, repoUrl: repo.url, count: TTL_STACKS });
  } finally {
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
