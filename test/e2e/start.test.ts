import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/dev-server';

// `npm start` as a user runs it: dev server, worker and API as one supervised group.
const root = join(__dirname, '..', '..');
function start(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string; token: string }> {
  const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), ['src/main.ts'], { cwd: root, env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner after 60 s:\n${out}`)), 60_000);
    const check = () => {
      const m = /API token\s+(\S+)/.exec(out);
      if (m && /worker running/.test(out) && /API listening/.test(out)) {
        clearTimeout(timer);
        resolve({ child, output: () => out, token: m[1] });
      } else if (child.exitCode === null) setTimeout(check, 200);
      else reject(new Error(`exited early:\n${out}`));
    };
    check();
  });
}

const stopped = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', r)));

const alive = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => (s.end(), resolve(true)));
    s.once('error', () => resolve(false));
  });

test('starts, keeps its data across a restart, and stops every child on SIGTERM', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stackwright-start-'));
  const env = {
    STACKWRIGHT_DATA_DIR: dataDir,
    STACKWRIGHT_PORT: String(await freePort()),
    STACKWRIGHT_TEMPORAL_PORT: String(await freePort()),
    STACKWRIGHT_LOG_LEVEL: 'info',
  };
  const api = `http://127.0.0.1:${env.STACKWRIGHT_PORT}/api/stacks/acme/website/dev/deployments/settings`;

  const first = await start(env);
  expect(first.output()).toContain(`Temporal UI       http://localhost:${Number(env.STACKWRIGHT_TEMPORAL_PORT) + 1000}`);
  expect((await fetch(api)).status).toBe(401);
  const put = await fetch(api, {
    method: 'PUT',
    headers: { Authorization: `token ${first.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ sourceContext: { git: { repoURL: 'https://example.com/r.git', branch: 'main' } } }),
  });
  expect(put.status).toBe(200);
  first.child.kill('SIGTERM');
  expect(await stopped(first.child)).toBe(0);
  expect(await alive(Number(env.STACKWRIGHT_TEMPORAL_PORT))).toBe(false);
  expect(await alive(Number(env.STACKWRIGHT_PORT))).toBe(false);

  const second = await start(env);
  expect(second.token).toBe(first.token); // kept in the data dir
  const got = await fetch(api, { headers: { Authorization: `token ${second.token}` } });
  expect(((await got.json()) as any).sourceContext.git.repoURL).toBe('https://example.com/r.git');
  second.child.kill('SIGTERM');
  expect(await stopped(second.child)).toBe(0);
});

test('a bad configuration value is named and nothing starts', async () => {
  const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), ['src/main.ts'], {
    cwd: root,
    env: { ...process.env, STACKWRIGHT_PORT: 'eighty', STACKWRIGHT_DATA_DIR: mkdtempSync(join(tmpdir(), 'stackwright-bad-')) },
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  expect(await stopped(child)).toBe(1);
  expect(err).toContain('STACKWRIGHT_PORT');
});
