import { spawn } from 'node:child_process';
import { heartbeat } from '@temporalio/activity';

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  onOutput: (chunk: string) => void;
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
    const child = spawn(command, args, { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    const onAbort = () => {
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), o.killGraceMs ?? 5_000).unref();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const beat = setInterval(() => safeHeartbeat(), 5_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (safeHeartbeat(), o.onOutput(d)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (safeHeartbeat(), o.onOutput(d)));
    const done = () => {
      clearInterval(beat);
      o.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err) => (done(), reject(err)));
    child.once('close', (code, sig) => {
      done();
      if (o.signal?.aborted) reject(o.signal.reason ?? new Error('cancelled'));
      else resolve(code ?? (sig ? 128 : 1));
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
