import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { heartbeat } from '@temporalio/activity';

export interface RunOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  /** Receives stdout and stderr, unless one of them has its own callback. */
  onOutput?: (chunk: string) => void;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  onSpawn?: (pid: number) => void;
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL after an abort. */
  killGraceMs?: number;
}

/**
 * Runs a command in its own process group, streaming output and heartbeating (heartbeats are
 * what deliver cancellation to an activity). On abort the whole group is stopped, so grandchildren
 * such as npm's scripts do not outlive the step. Resolves with the exit code.
 */
export function runProcess(command: string, args: string[], o: RunOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(o.signal.reason);
    const child = spawn(command, args, { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) o.onSpawn?.(child.pid);
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), o.killGraceMs ?? 5_000);
      killTimer.unref();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const beat = setInterval(() => safeHeartbeat(), 5_000);
    const onStdout = o.onStdout ?? o.onOutput;
    const onStderr = o.onStderr ?? o.onOutput;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (safeHeartbeat(), onStdout?.(d)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (safeHeartbeat(), onStderr?.(d)));
    const done = () => {
      clearInterval(beat);
      // 'close' waits for the output pipes, which helpers in the group share: the group is gone.
      clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err) => (done(), reject(err)));
    child.once('close', (code, sig) => {
      done();
      if (o.signal?.aborted) reject(o.signal.reason ?? new Error('cancelled'));
      // Like a shell: a death by signal N reads as exit code 128 + N.
      else resolve(code ?? 128 + (sig ? (constants.signals[sig] ?? 0) : 0));
    });
  });
}

/** Heartbeat when running inside an activity; a no-op elsewhere (scripts, unit tests). */
export function safeHeartbeat(details?: unknown): void {
  try {
    heartbeat(details);
  } catch {
    /* not in an activity context */
  }
}
