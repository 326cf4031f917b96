import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { waitForPort } from '../../src/dev-server';

/** The PostgreSQL server binaries of Debian's postgresql package, if installed. */
function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, 'bin')).find((d) => existsSync(join(d, 'initdb')));
}

/**
 * A throwaway PostgreSQL cluster (trust auth, loopback only) for the store's PostgreSQL tests.
 * Undefined when the server binaries are missing. initdb refuses root, so root runs it as `postgres`.
 */
export async function startPostgres(port: number): Promise<{ url: string; child: ChildProcess } | undefined> {
  const bin = pgBin();
  if (!bin) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'stackwright-pg-'));
  const asRoot = userInfo().uid === 0;
  let uid: number | undefined;
  if (asRoot) {
    uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const as = (cmd: string, args: string[]) => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]) as [string, string[]];
  execFileSync(...as(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']), { stdio: 'ignore' });
  const child = spawn(
    ...as(join(bin, 'postgres'), ['-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off']),
    { stdio: 'ignore' },
  );
  await waitForPort('127.0.0.1', port, 30_000);
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, child };
}
