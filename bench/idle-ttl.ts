/**
 * The idle cost of TTL stacks: a worker holding COUNT TTL workflows (each a durable timer 30 days
 * out, created through the API) is measured for CPU and memory over a quiet window, against the
 * same worker before they existed. Timers live in Temporal, so an idle TTL should cost no CPU.
 */
import { readFileSync } from 'node:fs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (ms) of a process from /proc/<pid>/stat: utime + stime. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** CPU share of one core and resident memory of `pid` over `windowMs`. */
async function sample(pid: number, windowMs: number): Promise<{ cpuPercent: number; rssMb: number }> {
  const c0 = cpuMs(pid);
  const t0 = Date.now();
  await sleep(windowMs);
  return { cpuPercent: ((cpuMs(pid) - c0) / (Date.now() - t0)) * 100, rssMb: rssMb(pid) };
}

/** Waits (up to 5 minutes) until the worker has been quiet for a 5-second window: bundling, or a backlog of workflow tasks, is done. */
async function settle(pid: number): Promise<void> {
  for (let i = 0; i < 60; i++) if ((await sample(pid, 5_000)).cpuPercent < 3) return;
}

type Post = (path: string, body: unknown) => Promise<unknown>;

/** Runs `tasks` with at most `n` at a time. */
async function pool(n: number, tasks: (() => Promise<unknown>)[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < tasks.length) await tasks[next++]();
  }));
}

export async function idleTtl(o: { post: Post; workerPid: number; repoUrl: string; count: number; windowMs?: number }): Promise<void> {
  const windowMs = o.windowMs ?? 30_000;
  console.log(`\nidle TTL stacks: measuring the worker (pid ${o.workerPid}) for ${windowMs / 1000} s, then creating ${o.count} TTL schedules ...`);
  await settle(o.workerPid);
  const before = await sample(o.workerPid, windowMs);
  const deadline = new Date(Date.now() + 30 * 86_400_000).toISOString();
  const t0 = Date.now();
  await pool(
    8,
    Array.from({ length: o.count }, (_, i) => async () => {
      const stack = `/api/stacks/bench-ttl/website/s${i}`;
      await o.post(`${stack}/deployments/settings`, { sourceContext: { git: { repoURL: o.repoUrl, branch: 'main' } } });
      // A loaded dev server may time out (503, nothing kept): that request is sent again.
      for (let attempt = 1; ; attempt++) {
        try {
          await o.post(`${stack}/deployments/ttl/schedules`, { timestamp: deadline, deleteAfterDestroy: true });
          break;
        } catch (err) {
          if (attempt >= 5 || !String(err).includes(': 503 ')) throw err;
          await sleep(1000 * attempt);
        }
      }
    }),
  );
  const created = Date.now() - t0;
  // Let the worker run each workflow's first task (which only starts its timer), then measure a quiet window.
  await settle(o.workerPid);
  const after = await sample(o.workerPid, windowMs);
  console.log(`  ${o.count} TTL schedules created in ${(created / 1000).toFixed(1)} s through the API`);
  console.log(`  worker before: CPU ${before.cpuPercent.toFixed(2)} % of a core, RSS ${before.rssMb.toFixed(0)} MB`);
  console.log(`  worker holding ${o.count} idle TTL workflows: CPU ${after.cpuPercent.toFixed(2)} % of a core, RSS ${after.rssMb.toFixed(0)} MB`);
}
