import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join, basename } from 'node:path';
import { promisify } from 'node:util';
import { hashTree, listTree, manifestItems, placeTree, sealTree, treeDifference, type ListedItem, type TreeItem } from './cache-tree';

const MANIFEST_VERSION = 2;

/**
 * A cached node_modules: the tree, and a manifest listing every path with its kind, size and
 * executable bit (checked on every restore) and a hash over all of that and every byte.
 */
export interface Manifest {
  version: number;
  key: string;
  hash: string;
  bytes: number;
  files: number;
  created: string;
  items: TreeItem[];
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

/** How entries are written and read: hard links to sealed files (root, sandboxed deployments), or copies. */
export interface CacheMode {
  /** Hard-link files in and out; the files are sealed (the worker's, read-only) first. */
  link: boolean;
  /** Who gets the restored directories (the sandbox's user), when linking. */
  dirOwner?: number;
}

export type RestoreResult = { hit: true; manifest: Manifest } | { hit: false; why: string };

export interface Saved {
  bytes: number;
  files: number;
  evicted: string[];
  /** Settles once the entry is visible (hashed, manifest written, renamed into place), or failed. */
  done: Promise<Manifest | Error>;
}

const me = () => ({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });

/**
 * Installed node_modules directories kept between deployments of a project's stacks, under
 * <root>/<project hash>/<generation>-<key>; the least recently used go first once the total passes
 * the bound. A deployment never sees the cache: entries are linked or copied in and out by the worker.
 */
export class DependencyCache {
  /** Saves still hashing in the background. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    readonly root: string,
    readonly maxBytes: number,
    /** Whether a restore also reads every byte against the manifest's hash (sizes are always checked). */
    readonly verifyContent = true,
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

  /**
   * Restores node_modules into `dest`; says why not otherwise. Every path, kind, size and executable
   * bit is checked against the manifest (and, linking, that files are still sealed), then the
   * content hash while the tree is placed. A corrupted entry is removed.
   */
  async restore(scope: string, key: string, generation: number, dest: string, mode: CacheMode): Promise<RestoreResult> {
    await this.dropOtherGenerations(scope, generation);
    const entry = join(this.scopeDir(scope), `${generation}-${key}`);
    const manifest = await readManifest(entry);
    if (!manifest) return { hit: false, why: 'no cache entry for this lockfile, package manager, Node.js version and platform' };
    const tree = join(entry, 'node_modules');
    const corrupted = async (what: string): Promise<RestoreResult> => {
      await fs.rm(dest, { recursive: true, force: true });
      await fs.rm(entry, { recursive: true, force: true });
      return { hit: false, why: `the cache entry was corrupted (${what}); it was removed and is rebuilt` };
    };
    let found;
    try {
      found = await listTree(tree);
    } catch (err) {
      return corrupted(`it could not be read: ${(err as Error).message}`);
    }
    const diff = treeDifference(found, manifest.items, mode.link ? me().uid : undefined);
    if (diff) return corrupted(diff);
    try {
      const [, hash] = await Promise.all([
        placeTree(tree, dest, manifest.items, () => mode.link, mode.link ? mode.dirOwner : undefined),
        this.verifyContent ? hashTree(tree, manifest.items) : manifest.hash,
      ]);
      if (hash !== manifest.hash) return corrupted('its content does not match its manifest');
    } catch (err) {
      await fs.rm(dest, { recursive: true, force: true });
      return { hit: false, why: `the cache entry could not be read (${(err as Error).message})` };
    }
    // Last use, for LRU eviction.
    const now = new Date();
    await fs.utimes(join(entry, 'manifest.json'), now, now).catch(() => undefined);
    return { hit: true, manifest };
  }

  /**
   * Saves `src` (an installed node_modules, nothing of the installing user running any more) as the
   * entry for `key`. Linking, the files are sealed first, so what runs next in the workspace can
   * change none of them. The tree is linked (or copied) into a temporary entry and the bound enforced
   * before this returns; the content hash is computed in the background, and the entry becomes
   * visible (renamed into place) once its manifest is written. A worker that stops meanwhile leaves a
   * .tmp- entry, which eviction removes.
   */
  async save(scope: string, key: string, generation: number, src: string, mode: CacheMode): Promise<Saved> {
    const dir = this.scopeDir(scope);
    const entry = join(dir, `${generation}-${key}`);
    const tmp = join(dir, `.tmp-${process.pid}-${Date.now()}-${key}`);
    let items: ListedItem[];
    try {
      await fs.mkdir(tmp, { recursive: true, mode: 0o700 });
      items = await listTree(src);
      const shared = mode.link ? await sealTree(src, items, me().uid, me().gid) : new Set<string>();
      await placeTree(src, join(tmp, 'node_modules'), items, (i) => mode.link && !shared.has(i.path));
      // The copies of files that had other names are sealed like the linked ones.
      for (const i of items) if (shared.has(i.path)) await fs.chmod(join(tmp, 'node_modules', i.path), i.x ? 0o555 : 0o444);
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw err;
    }
    const bytes = items.reduce((n, i) => n + i.size, 0);
    const evicted = await this.evict(undefined, bytes);
    const finish = async (): Promise<Manifest> => {
      try {
        const listed = manifestItems(items);
        const hash = await hashTree(join(tmp, 'node_modules'), listed);
        const manifest: Manifest = { version: MANIFEST_VERSION, key, hash, bytes, files: items.length, created: new Date().toISOString(), items: listed };
        await fs.writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest), { mode: 0o600 });
        await fs.rm(entry, { recursive: true, force: true });
        await fs.rename(tmp, entry);
        return manifest;
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
      }
    };
    const done = finish().catch((err: Error) => err);
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return { bytes, files: items.length, evicted, done };
  }

  /** Waits for the saves still in the background (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /**
   * Removes least recently used entries until the total size, with `adding` bytes about to arrive,
   * is within the bound (never `keep`).
   */
  async evict(keep?: string, adding = 0): Promise<string[]> {
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
        const st = await fs.stat(join(path, 'manifest.json')).catch(() => undefined);
        const bytes = st && (await manifestBytes(path));
        if (!st || bytes === undefined) continue;
        all.push({ path, bytes, used: st.mtimeMs });
      }
    }
    let total = all.reduce((n, e) => n + e.bytes, adding);
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
    // Entries of an older format have no listing: they are not used (the next save replaces them).
    return m.version === MANIFEST_VERSION && typeof m.hash === 'string' && typeof m.bytes === 'number' && Array.isArray(m.items) ? m : undefined;
  } catch {
    return undefined;
  }
}

/** An entry's size, for eviction; an entry of any format counts. */
async function manifestBytes(entry: string): Promise<number | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(join(entry, 'manifest.json'), 'utf8')) as { bytes?: unknown };
    return typeof m.bytes === 'number' ? m.bytes : undefined;
  } catch {
    return undefined;
  }
}
