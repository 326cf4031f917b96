import { spawn } from 'node:child_process';
import { Supervisor } from '../src/supervisor';

const node = (code: string) => spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
const quietLog = () => {
  const lines: { meta: any; message: string }[] = [];
  const add = (meta: object, message: string) => lines.push({ meta, message });
  return { lines, info: add, error: add };
};
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a crashing role is restarted with growing delays, logged and counted, while the others keep running', async () => {
  const log = quietLog();
  const s = new Supervisor(log, { initialMs: 10, maxMs: 40, stableMs: 60_000 });
  const steady = await s.add({ name: 'api', stopTimeoutMs: 5_000, start: async () => node('setInterval(() => {}, 1000)') });
  await s.add({ name: 'worker', stopTimeoutMs: 5_000, start: async () => node('process.exit(3)') });
  await until(() => s.restarts('worker') >= 4);
  expect(s.restarts('worker')).toBeGreaterThanOrEqual(4);
  expect(s.pid('api')).toBe(steady.pid);
  expect(s.restarts('api')).toBe(0);
  const crashes = log.lines.filter((l) => l.message === 'worker exited; restarting').map((l) => l.meta);
  expect(crashes[0]).toMatchObject({ role: 'worker', code: 3, restarts: 1, delayMs: 10 });
  expect(crashes.slice(0, 4).map((c) => c.delayMs)).toEqual([10, 20, 40, 40]);

  await s.stop([['worker'], ['api']]);
  expect(alive(steady.pid!)).toBe(false);
  const after = s.restarts('worker');
  await new Promise((r) => setTimeout(r, 100));
  expect(s.restarts('worker')).toBe(after);
});

test('a role that fails to start again is retried, and one killed with SIGKILL comes back', async () => {
  const log = quietLog();
  const s = new Supervisor(log, { initialMs: 10, maxMs: 40, stableMs: 60_000 });
  let starts = 0;
  const first = await s.add({
    name: 'temporal',
    stopTimeoutMs: 5_000,
    start: async () => {
      // The second start fails (its port still taken, say); the third works.
      if (++starts === 2) throw new Error('port in use');
      return node('setInterval(() => {}, 1000)');
    },
  });
  process.kill(first.pid!, 'SIGKILL');
  await until(() => s.pid('temporal') !== undefined && s.pid('temporal') !== first.pid);
  expect(starts).toBe(3);
  expect(log.lines.map((l) => l.meta)).toEqual([
    expect.objectContaining({ role: 'temporal', signal: 'SIGKILL', restarts: 1 }),
    expect.objectContaining({ role: 'temporal', error: 'Error: port in use', restarts: 2 }),
    expect.objectContaining({ role: 'temporal', restarts: 2, pid: s.pid('temporal') }),
  ]);
  await s.stop([['temporal']]);
});
