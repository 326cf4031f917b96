import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/** One path of a cached tree, as the manifest lists it (in walk order: a directory before its contents). */
export interface TreeItem {
  path: string;
  kind: 'd' | 'f' | 'l';
  /** Bytes of a file, 0 otherwise. */
  size: number;
  /** Whether a file is executable (the rest of a mode depends on the umask or on sealing). */
  x: boolean;
  /** A symbolic link's target. */
  target?: string;
}

/** A listed item with what lstat said of it (not kept in the manifest). */
export interface ListedItem extends TreeItem {
  mode: number;
  uid: number;
  nlink: number;
}

const PARALLEL = 32;

/** Runs `fn` on every item with bounded parallelism (the fs calls queue in libuv's pool anyway). */
async function each<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const work = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: PARALLEL }, work));
}

/** Every directory, file and link under `root`, sorted, without following any link. */
export async function listTree(root: string): Promise<ListedItem[]> {
  const items: ListedItem[] = [];
  const walk = async (rel: string) => {
    const names = (await fs.readdir(join(root, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of names) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        items.push({ path, kind: 'd', size: 0, x: false, mode: 0, uid: 0, nlink: 0 });
        await walk(path);
      } else if (e.isSymbolicLink()) items.push({ path, kind: 'l', size: 0, x: false, mode: 0, uid: 0, nlink: 0 });
      else if (e.isFile()) items.push({ path, kind: 'f', size: 0, x: false, mode: 0, uid: 0, nlink: 0 });
      else throw new Error(`${path} is neither a file, a directory nor a link`);
    }
  };
  await walk('');
  await each(items, async (i) => {
    const at = join(root, i.path);
    if (i.kind === 'l') i.target = await fs.readlink(at);
    if (i.kind !== 'f') return;
    const st = await fs.lstat(at);
    if (!st.isFile()) throw new Error(`${i.path} changed while it was listed`);
    Object.assign(i, { size: st.size, x: (st.mode & 0o111) !== 0, mode: st.mode & 0o7777, uid: st.uid, nlink: st.nlink });
  });
  return items;
}

/** The manifest's form of a listing. */
export const manifestItems = (items: ListedItem[]): TreeItem[] =>
  items.map(({ path, kind, size, x, target }) => (kind === 'l' ? { path, kind, size, x, target } : { path, kind, size, x }));

/**
 * The first difference between a tree as found and as its manifest lists it: a path missing or
 * extra, another kind, size, executable bit or link target. With `sealedBy`, every file must also
 * be owned by that uid and writable by nobody (what `sealTree` made it). Costs one lstat per file.
 */
export function treeDifference(found: ListedItem[], expected: TreeItem[], sealedBy?: number): string | undefined {
  const max = Math.max(found.length, expected.length);
  for (let n = 0; n < max; n++) {
    const f = found[n];
    const e = expected[n];
    if (!f || !e || f.path !== e.path) {
      const want = new Set(expected.map((i) => i.path));
      const have = new Set(found.map((i) => i.path));
      const missing = expected.find((i) => !have.has(i.path));
      const extra = found.find((i) => !want.has(i.path));
      return missing ? `${missing.path} is missing` : `${extra?.path ?? f?.path ?? e?.path} is not in the manifest`;
    }
    if (f.kind !== e.kind) return `${e.path} is no longer a ${{ d: 'directory', f: 'file', l: 'link' }[e.kind]}`;
    if (f.size !== e.size) return `${e.path} has ${f.size} bytes instead of ${e.size}`;
    if (f.x !== e.x) return `${e.path} changed its executable bit`;
    if ((f.target ?? '') !== (e.target ?? '')) return `${e.path} points elsewhere`;
    if (sealedBy !== undefined && f.kind === 'f' && (f.uid !== sealedBy || (f.mode & 0o7222) !== 0)) return `${e.path} is writable or not the worker's`;
  }
  return undefined;
}

/**
 * Makes the files of a tree the worker's and read-only (0444, or 0555 when executable), so that
 * code running afterwards as another user can neither change one in place nor chmod it. Only as
 * root, and only once nothing of that user runs any more (the tree is then as lstat saw it). A file
 * with other names (a hard link made by the install, maybe into a shared download cache) is left
 * alone: it is returned, to be copied rather than linked.
 */
export async function sealTree(root: string, items: ListedItem[], uid: number, gid: number): Promise<Set<string>> {
  const shared = new Set<string>();
  await each(items, async (i) => {
    if (i.kind !== 'f') return;
    if (i.nlink !== 1) return void shared.add(i.path);
    const at = join(root, i.path);
    await fs.lchown(at, uid, gid);
    i.mode = i.x ? 0o555 : 0o444;
    i.uid = uid;
    await fs.chmod(at, i.mode);
  });
  return shared;
}

/**
 * Recreates a listed tree at `dest`: directories made fresh (and handed to `dirOwner` when given),
 * links recreated, files hard-linked when `link(item)` says so and copied otherwise.
 */
export async function placeTree(src: string, dest: string, items: TreeItem[], link: (i: TreeItem) => boolean, dirOwner?: number): Promise<void> {
  await fs.mkdir(dest);
  // Walk order puts a directory before its contents.
  for (const i of items) if (i.kind === 'd') await fs.mkdir(join(dest, i.path));
  if (dirOwner !== undefined) {
    await fs.chown(dest, dirOwner, dirOwner);
    await each(
      items.filter((i) => i.kind === 'd'),
      (i) => fs.chown(join(dest, i.path), dirOwner, dirOwner),
    );
  }
  await each(items, async (i) => {
    const from = join(src, i.path);
    const to = join(dest, i.path);
    if (i.kind === 'l') await fs.symlink(i.target!, to);
    else if (i.kind === 'f') await (link(i) ? fs.link(from, to) : fs.copyFile(from, to));
  });
}

// Reads and hashes files one after another with synchronous reads, on a thread of its own: a
// fraction of the CPU of one asynchronous read per file (four thread-pool round trips each), and
// the worker's event loop stays free.
const HASHER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
try {
  const digests = workerData.files.map(([path, size]) => {
    const data = readFileSync(workerData.root + '/' + path);
    if (data.length !== size) throw new Error(path + ' has ' + data.length + ' bytes instead of ' + size);
    return createHash('sha256').update(data).digest('hex');
  });
  parentPort.postMessage({ digests });
} catch (err) {
  parentPort.postMessage({ error: err.message });
}`;

function fileDigests(root: string, files: TreeItem[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(HASHER, { eval: true, workerData: { root, files: files.map((f) => [f.path, f.size]) } });
    w.once('message', (m: { digests?: string[]; error?: string }) => (m.digests ? resolve(m.digests) : reject(new Error(m.error))));
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`the hashing thread exited with code ${code}`)));
  });
}

/**
 * A hash of a tree's paths, kinds, executable bits, link targets and every byte of its files, in
 * listing order. A file whose size is not the listed one fails.
 */
export async function hashTree(root: string, items: TreeItem[]): Promise<string> {
  const files = items.filter((i) => i.kind === 'f');
  const digests = await fileDigests(root, files);
  const byPath = new Map(files.map((f, n) => [f.path, digests[n]]));
  const h = createHash('sha256');
  for (const i of items) h.update(`${i.path}\0${i.kind}\0${i.x ? 'x' : '-'}\0${i.kind === 'f' ? byPath.get(i.path) : (i.target ?? '')}\n`);
  return h.digest('hex');
}
