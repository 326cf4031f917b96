import { mkdirSync, mkdtempSync, readdirSync, utimesSync, existsSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheKey, DependencyCache, type CacheKeyParts } from '../src/activities/dependency-cache';
import { smallTree } from './helpers/small-tree';
import { withFileLock } from '../src/activities/file-lock';
import { pruneMirrors } from '../src/activities/git';

const parts: CacheKeyParts = {
  packageManager: 'npm',
  packageManagerVersion: '11.19.1',
  lockfile: 'package-lock.json',
  lockfileContent: Buffer.from('{"lockfileVersion":3}'),
  packageJson: Buffer.from('{"name":"x"}'),
  node: 'v20.20.2',
  platform: 'linux-x64',
  generation: 0,
};

test('the cache key changes with the package manager, its version, the lockfile, Node.js, the platform and the generation', () => {
  const base = cacheKey(parts);
  expect(cacheKey({ ...parts })).toBe(base);
  const variants: Partial<CacheKeyParts>[] = [
    { packageManager: 'yarn', lockfile: 'yarn.lock' },
    { packageManager: 'pnpm', lockfile: 'pnpm-lock.yaml' },
    { packageManagerVersion: '10.0.0' },
    { lockfileContent: Buffer.from('{"lockfileVersion":3} ') },
    { node: 'v22.0.0' },
    { platform: 'linux-arm64' },
    { generation: 1 },
  ];
  const keys = variants.map((v) => cacheKey({ ...parts, ...v }));
  expect(new Set([base, ...keys]).size).toBe(variants.length + 1);
});

const tree = smallTree;

test('restore detects a corrupted entry and removes it; eviction drops the least recently used', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sw-cache-'));
  const cache = new DependencyCache(root, 60); // bytes: room for one entry of the small tree (39 bytes)
  const copy = { link: false };
  const src = tree();
  const saved = await cache.save('o/p/s', 'k1', 0, src, copy);
  expect(saved).toMatchObject({ bytes: 39, files: 5, evicted: [] });
  expect(await saved.done).toMatchObject({ bytes: 39, files: 5 });
  const out = (n: string) => join(root, '..', `${n}-${Date.now()}-${Math.random()}`);
  expect(await cache.restore('o/p/s', 'k1', 0, out('a'), copy)).toMatchObject({ hit: true });
  expect(await cache.restore('o/p/s', 'k2', 0, out('b'), copy)).toMatchObject({ hit: false });

  const entry = join(cache.scopeDir('o/p/s'), '0-k1');
  appendFileSync(join(entry, 'node_modules', 'a', 'index.js'), '//');
  const bad = out('c');
  expect(await cache.restore('o/p/s', 'k1', 0, bad, copy)).toMatchObject({ hit: false, why: expect.stringContaining('corrupted (a/index.js has 21 bytes instead of 19)') });
  expect(existsSync(entry)).toBe(false);
  expect(existsSync(bad)).toBe(false);

  await (await cache.save('o/p/s', 'k1', 0, src, copy)).done;
  utimesSync(join(entry, 'manifest.json'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  expect((await cache.save('o/p/t', 'k3', 0, src, copy)).evicted).toEqual(['0-k1']);
  await cache.settled();
  // A newer generation drops the older ones of that stack.
  await cache.restore('o/p/t', 'k3', 1, out('d'), copy);
  expect(readdirSync(cache.scopeDir('o/p/t'))).toEqual([]);
});

test('an entry is invisible until its manifest is written', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sw-cache-'));
  const cache = new DependencyCache(root, 1e9);
  const saved = await cache.save('o/p/s', 'k1', 0, tree(), { link: false });
  // Saved: the tree is in a temporary entry, the hash still to come.
  // (No I/O callback can run before this line, so the hash cannot have been written yet.)
  expect(readdirSync(cache.scopeDir('o/p/s')).map((n) => n.slice(0, 5))).toEqual(['.tmp-']);
  await saved.done;
  expect(readdirSync(cache.scopeDir('o/p/s'))).toEqual(['0-k1']);
  expect(await cache.restore('o/p/s', 'k1', 0, join(root, 'late'), { link: false })).toMatchObject({ hit: true });
});

test('unused mirrors are pruned; a locked one is left alone', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sw-mirrors-'));
  for (const n of ['old.git', 'busy.git', 'new.git']) mkdirSync(join(root, n));
  const past = new Date(Date.now() - 30 * 24 * 3600_000);
  for (const n of ['old.git', 'busy.git']) utimesSync(join(root, n), past, past);
  let pruned: string[] = [];
  await withFileLock(join(root, 'busy.git.lock'), async () => {
    pruned = await pruneMirrors(root, 14 * 24 * 3600_000);
  });
  expect(pruned).toEqual(['old.git']);
  expect(readdirSync(root).filter((n) => n.endsWith('.git')).sort()).toEqual(['busy.git', 'new.git']);
});

test('the file lock is exclusive', async () => {
  const lock = join(mkdtempSync(join(tmpdir(), 'sw-lock-')), 'x.lock');
  const order: string[] = [];
  const hold = (name: string, ms: number) =>
    withFileLock(lock, async () => {
      order.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${name}-`);
    });
  await Promise.all([hold('a', 300), new Promise((r) => setTimeout(r, 50)).then(() => hold('b', 10))]);
  expect(order).toEqual(['a+', 'a-', 'b+', 'b-']);
});
