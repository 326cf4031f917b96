import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * The name of this data directory's worker, created once and kept there. A deployment's steps run on
 * a task queue named after it, next to the files they share; a worker restarted on the same data
 * directory polls the same queue, so what was scheduled for its previous run (a cleanup, the next
 * step) is picked up instead of waiting for a worker that will never come back.
 */
export function workerId(dataDir: string): string {
  const file = join(dataDir, 'worker-id');
  if (!existsSync(file)) {
    try {
      writeFileSync(file, `${hostname()}-${randomBytes(4).toString('hex')}\n`, { flag: 'wx' });
    } catch (err) {
      // Another process on this data directory wrote it first.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return readFileSync(file, 'utf8').trim();
}

/**
 * This process's Temporal worker identity: says which pid on which host ran an activity. The random
 * part tells a restarted worker from its previous run even when it got the same pid (a container's).
 */
export const PROCESS_IDENTITY = `${process.pid}@${hostname()}/${randomBytes(3).toString('hex')}`;

/** The pid in an identity from `processIdentity` when it names this host; undefined otherwise. */
export function localPid(identity: string): number | undefined {
  const m = /^(\d+)@([^/]+)\//.exec(identity);
  return m && m[2] === hostname() ? Number(m[1]) : undefined;
}
