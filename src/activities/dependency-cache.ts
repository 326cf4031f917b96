import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join, relative, basename } from 'node:path';
import { promisify } from 'node:util';

/** A cached node_modules: the tree, and a manifest whose hash covers every path, mode and byte of it. */
interface Manifest {
  key: string;
  hash: string;
  bytes: number;
  files: number;
  created: string;
}

/** What decides whether an installed node_modules can be reused. */
export interface CacheKeyParts {
  packageManager: string;
  packageManagerVersion: string;
  lockfile: string;
  lockfileContent: Buffer;
  packageJson: Buffer;
  node: string;
  platform: string;
  generation: number;
}

export function cacheKey(p: CacheKeyParts): string {
  const h = createHash('sha256');
  for (const part of [p.packageManager, p.packageManagerVersion, p.lockfile, p.node, p.platform, String(p.generation)]) h.update(`${part}\0`);
  h.update(createHash('sha256').update(p.lockfileContent).digest('hex'));
  h.update(createHash('sha256').update(p.packageJson).digest('hex'));
  return h.digest('hex').slice(0, 32);
}

const versions = new Map<string, Promise<string>>();

/** The package manager's version, asked once per worker (outside the sandbox, in a neutral directory). */
export function packageManagerVersion(pm: string, cwd: string): Promise<string> {
  let v = versions.get(pm);
  if (!v) {
    v = promisify(execFile)(pm, ['--version'], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 30_000 }).then(
      (r) => r.stdout.trim(),
      () => 'unknown',
    );
    versions.set(pm, v);
  }
  return v;
}

/** The lockfile each package manager installs from. */
export const LOCKFILES: Record<string, string> = { npm: 'package-lock.json', yarn: 'yarn.lock', pnpm: 'pnpm-lock.yaml' };

/**
 * Copies a tree (directories, files with their modes, symlinks as they are; nothing is followed)
 * and returns a hash of what it copied. Files are read and written with bounded parallelism, the
 * hash is over the sorted listing so it does not depend on their order.
 */
export async function copyTree(src: string, dest: string): Promise<{ hash: string; bytes: number; files: number }> {
  const entries: { rel: string; kind: 'd' | 'f' | 'l'; mode: number; digest?: string }[] = [];
  const walk = async (dir: string) => {
    for (const e of (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, e.name);
      const rel = relative(src, path);
      if (e.isDirectory()) {
        entries.push({ rel, kind: 'd', mode: 0 });
        await walk(path);
      } else if (e.isSymbolicLink()) entries.push({ rel, kind: 'l', mode: 0 });
      else if (e.isFile()) entries.push({ rel, kind: 'f', mode: 0 });
      else throw new Error(`${rel} is neither a file, a directory nor a link`);
    }
  };
  await walk(src);
  await fs.mkdir(dest, { recursive: true });
  for (const e of entries) if (e.kind === 'd') await fs.mkdir(join(dest, e.rel), { recursive: true });
  let bytes = 0;
  let next = 0;
  const work = async () => {
    while (next < entries.length) {
      const e = entries[next++];
      if (e.kind === 'd') continue;
      const from = join(src, e.rel);
      const to = join(dest, e.rel);
      if (e.kind === 'l') {
        const target = await fs.readlink(from);
        await fs.symlink(target, to);
        e.digest = target;
      } else {
        const [data, st] = await Promise.all([fs.readFile(from), fs.lstat(from)]);
        e.mode = st.mode & 0o777;
        await fs.writeFile(to, data, { mode: e.mode });
        if ((e.mode & 0o111) !== 0) await fs.chmod(to, e.mode);
        e.digest = createHash('sha256').update(data).digest('hex');
        bytes += data.length;
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, work));
  const h = createHash('sha256');
  // Only the executable bit: the rest of a mode depends on the umask.
  for (const e of entries) h.update(`${e.rel}\0${e.kind}\0${e.mode & 0o111 ? 'x' : '-'}\0${e.digest ?? ''}\n`);
  return { hash: h.digest('hex'), bytes, files: entries.length };
}

/**
 * Installed node_modules directories kept between deployments of a project's stacks, under
 * <root>/<project hash>/<generation>-<key>; the least recently used go first once the total passes
 * the bound. A deployment never sees the cache: entries are copied in and out by the worker.
 */
export class DependencyCache {
  constructor(
    readonly root: string,
    readonly maxBytes: number,
  ) {}

  scopeDir(scope: string): string {
    return join(this.root, createHash('sha256').update(scope).digest('hex').slice(0, 24));
  }

  /** Drops the scope's entries of older generations (the API's clear bumps the generation). */
  async dropOtherGenerations(scope: string, generation: number): Promise<void> {
    const dir = this.scopeDir(scope);
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const n of names) if (!n.startsWith(`${generation}-`) && !n.startsWith('.tmp-')) await fs.rm(join(dir, n), { recursive: true, force: true });
  }

  /** Restores node_modules into `dest`; says why not otherwise. A corrupted entry is removed. */
  async restore(scope: string, key: string, generation: number, dest: string): Promise<{ hit: true; manifest: Manifest } | { hit: false; why: string }> {
    await this.dropOtherGenerations(scope, generation);
    const entry = join(this.scopeDir(scope), `${generation}-${key}`);
    const manifest = await readManifest(entry);
    if (!manifest) return { hit: false, why: 'no cache entry for this lockfile, package manager, Node.js version and platform' };
    let copied;
    try {
      copied = await copyTree(join(entry, 'node_modules'), dest);
    } catch (err) {
      await fs.rm(dest, { recursive: true, force: true });
      return { hit: false, why: `the cache entry could not be read (${(err as Error).message})` };
    }
    if (copied.hash !== manifest.hash) {
      await fs.rm(dest, { recursive: true, force: true });
      await fs.rm(entry, { recursive: true, force: true });
      return { hit: false, why: 'the cache entry was corrupted (its content does not match its manifest); it was removed and is rebuilt' };
    }
    // Last use, for LRU eviction.
    const now = new Date();
    await fs.utimes(join(entry, 'manifest.json'), now, now).catch(() => undefined);
    return { hit: true, manifest };
  }

  /** Saves `src` (an installed node_modules) as the entry for `key`, then evicts down to the bound. */
  async save(scope: string, key: string, generation: number, src: string): Promise<{ manifest: Manifest; evicted: string[] }> {
    const dir = this.scopeDir(scope);
    const entry = join(dir, `${generation}-${key}`);
    const tmp = join(dir, `.tmp-${process.pid}-${Date.now()}-${key}`);
    try {
      const copied = await copyTree(src, join(tmp, 'node_modules'));
      const manifest: Manifest = { key, hash: copied.hash, bytes: copied.bytes, files: copied.files, created: new Date().toISOString() };
      await fs.writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest), { mode: 0o600 });
      await fs.rm(entry, { recursive: true, force: true });
      await fs.rename(tmp, entry);
      return { manifest, evicted: await this.evict(entry) };
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  /** Removes least recently used entries until the total size is within the bound (never `keep`). */
  async evict(keep?: string): Promise<string[]> {
    const all: { path: string; bytes: number; used: number }[] = [];
    for (const s of await fs.readdir(this.root).catch(() => [] as string[])) {
      for (const n of await fs.readdir(join(this.root, s)).catch(() => [] as string[])) {
        const path = join(this.root, s, n);
        if (n.startsWith('.tmp-')) {
          // Left by a worker that stopped while saving.
          const st = await fs.stat(path).catch(() => undefined);
          if (st && Date.now() - st.mtimeMs > 3_600_000) await fs.rm(path, { recursive: true, force: true });
          continue;
        }
        const m = await readManifest(path);
        const st = await fs.stat(join(path, 'manifest.json')).catch(() => undefined);
        if (!m || !st) continue;
        all.push({ path, bytes: m.bytes, used: st.mtimeMs });
      }
    }
    let total = all.reduce((n, e) => n + e.bytes, 0);
    const evicted: string[] = [];
    for (const e of all.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      if (e.path === keep) continue;
      await fs.rm(e.path, { recursive: true, force: true });
      total -= e.bytes;
      evicted.push(basename(e.path));
    }
    return evicted;
  }
}

async function readManifest(entry: string): Promise<Manifest | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(join(entry, 'manifest.json'), 'utf8')) as Manifest;
    return typeof m.hash === 'string' && typeof m.bytes === 'number' ? m : undefined;
  } catch {
    return undefined;
  }
}
