import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config';
import { freePort } from '../../src/dev-server';
import { descendants } from '../../src/activities/process-tree';
import { callApi, outRoot, type ApiInit } from './stackwright';

export type Role = 'worker' | 'api' | 'temporal';

export interface Group {
  url: string;
  config: Config;
  /** The supervisor (`npm start`'s process). */
  proc: ChildProcess;
  /** Everything the group printed so far. */
  output(): string;
  /** Like Stackwright.api, but rides out an API that is restarting (connection refused). */
  api(path: string, init?: ApiInit): Promise<{ status: number; body: any }>;
  /** The pid of the role's process now running, if any. */
  pidOf(role: Role): number | undefined;
  /** Waits until the role runs in a process other than `not`; returns its pid. */
  waitForRole(role: Role, not?: number): Promise<number>;
  stop(): Promise<void>;
}

/**
 * `npm start` as a real process tree: supervisor, its own Temporal dev server, worker and API, on a
 * fresh data dir and free ports.
 */
export async function startGroup(env: Record<string, string> = {}): Promise<Group> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stackwright-group-'));
  const groupEnv: Record<string, string> = {
    STACKWRIGHT_DATA_DIR: dataDir,
    STACKWRIGHT_PORT: String(await freePort()),
    STACKWRIGHT_TEMPORAL_PORT: String(await freePort()),
    STACKWRIGHT_TASK_QUEUE: `group-${randomUUID()}`,
    STACKWRIGHT_LOG_LEVEL: 'warn',
    // Sandboxed deployments of local test repositories write under outRoot(); programs link Stackwright's node_modules.
    STACKWRIGHT_ALLOW_LOCAL_REPOS: 'true',
    STACKWRIGHT_SANDBOX_BINDS: `${outRoot()},${join(__dirname, '..', '..', 'node_modules')}:ro`,
    ...env,
  };
  // Generates the token and keys the group then reads.
  const config = loadConfig(groupEnv);
  const { TEMPORAL_ADDRESS: _external, ...inherited } = process.env;
  const proc = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'src', 'main.ts')], {
    cwd: join(__dirname, '..', '..'),
    env: { ...inherited, ...groupEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const url = config.publicUrl;
  const pids = new Set<number>();

  const pidOf = (role: Role): number | undefined => {
    for (const pid of descendants(proc.pid)) {
      const argv = cmdline(pid);
      const hit = role === 'temporal' ? argv.includes('start-dev') : argv.at(-1) === role && argv.at(-2)?.endsWith('main.ts');
      if (hit) {
        pids.add(pid);
        return pid;
      }
    }
    return undefined;
  };

  const api = async (path: string, init?: ApiInit) => {
    for (let i = 0; ; i++) {
      try {
        return await callApi(url, config.token, path, init);
      } catch (err) {
        if (i > 600 || proc.exitCode !== null) throw new Error(`API unreachable: ${(err as Error).message}\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };

  const group: Group = {
    url,
    config,
    proc,
    output: () => out,
    api,
    pidOf,
    async waitForRole(role, not) {
      for (let i = 0; i < 1500; i++) {
        const pid = pidOf(role);
        if (pid !== undefined && pid !== not) return pid;
        if (proc.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`no ${role} process came up\n${out}`);
    },
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      }
      // Whatever of ours the group left behind (it should leave nothing); a pid counts as ours only
      // while it still runs on this data dir.
      for (const pid of [...pids, ...descendants(proc.pid)]) {
        if (!environ(pid).includes(`STACKWRIGHT_DATA_DIR=${dataDir}`)) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
  for (const role of ['temporal', 'worker', 'api'] as const) await group.waitForRole(role);
  // Ready once this group's API answers: with its token, so a stranger on the port cannot pass for it.
  const ready = await api('/api/orgs/ready/deployments');
  if (ready.status !== 200) {
    await group.stop();
    throw new Error(`the group's API answered ${ready.status}, so something else holds port ${groupEnv.STACKWRIGHT_PORT}\n${out}`);
  }
  return group;
}

function environ(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}
