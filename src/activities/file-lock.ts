import { spawn } from 'node:child_process';

/**
 * Runs `fn` holding an exclusive flock(2) on `lockFile`, shared with every process on the machine
 * (other workers on the same data dir, `flock -n` in pruning). The lock is held by a small
 * `flock … cat` child: it is released when `fn` settles (stdin closed) or when this process dies.
 */
export async function withFileLock<T>(lockFile: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const child = spawn('flock', ['-w', '900', lockFile, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  const release = () => {
    child.stdin.end();
    child.kill();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal?.reason ?? new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.once('data', () => (signal?.removeEventListener('abort', onAbort), resolve()));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`could not lock ${lockFile} (flock exited with ${code})`)));
    });
    return await fn();
  } finally {
    release();
  }
}
