import { spawnSync } from 'node:child_process';
import { chmodSync, linkSync, lstatSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashTree, listTree, manifestItems, placeTree, treeDifference } from '../src/activities/cache-tree';
import { smallTree } from './helpers/small-tree';
import { DependencyCache } from '../src/activities/dependency-cache';
import { SANDBOX_UID } from '../src/activities/sandbox';

const tree = smallTree;

test('a listed tree is placed by links or copies, and its hash covers paths, links, exec bits and bytes', async () => {
  const src = tree();
  const items = await listTree(src);
  expect(manifestItems(items)).toEqual([
    { path: 'a', kind: 'd', size: 0, x: false },
    { path: 'a/.bin', kind: 'd', size: 0, x: false },
    { path: 'a/.bin/cli', kind: 'l', size: 0, x: false, target: '../cli.js' },
    { path: 'a/cli.js', kind: 'f', size: 20, x: true },
    { path: 'a/index.js', kind: 'f', size: 19, x: false },
  ]);
  const hash = await hashTree(src, items);
  const out = mkdtempSync(join(tmpdir(), 'sw-place-'));
  await placeTree(src, join(out, 'linked'), items, () => true);
  await placeTree(src, join(out, 'copied'), items, () => false);
  expect(statSync(join(out, 'linked', 'a', 'index.js')).ino).toBe(statSync(join(src, 'a', 'index.js')).ino);
  expect(statSync(join(out, 'copied', 'a', 'index.js')).ino).not.toBe(statSync(join(src, 'a', 'index.js')).ino);
  for (const d of ['linked', 'copied']) {
    const placed = await listTree(join(out, d));
    expect(treeDifference(placed, manifestItems(items))).toBeUndefined();
    expect(await hashTree(join(out, d), placed)).toBe(hash);
  }
  // Same size, other bytes: only the content hash sees it.
  writeFileSync(join(out, 'copied', 'a', 'index.js'), 'module.exports = 2;');
  expect(treeDifference(await listTree(join(out, 'copied')), manifestItems(items))).toBeUndefined();
  expect(await hashTree(join(out, 'copied'), items)).not.toBe(hash);
});

test('the cheap check names a missing or extra path, another size, kind, exec bit or link target', async () => {
  const src = tree();
  const expected = manifestItems(await listTree(src));
  const check = async (change: (dir: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-check-'));
    await placeTree(src, join(dir, 't'), expected, () => false);
    change(join(dir, 't'));
    return treeDifference(await listTree(join(dir, 't')), expected);
  };
  expect(await check(() => undefined)).toBeUndefined();
  expect(await check((d) => writeFileSync(join(d, 'a', 'index.js'), 'x'))).toBe('a/index.js has 1 bytes instead of 19');
  expect(await check((d) => chmodSync(join(d, 'a', 'cli.js'), 0o644))).toBe('a/cli.js changed its executable bit');
  expect(await check((d) => writeFileSync(join(d, 'a', 'new.js'), ''))).toBe('a/new.js is not in the manifest');
  expect(
    await check((d) => {
      spawnSync('rm', [join(d, 'a', '.bin', 'cli')]);
      symlinkSync('../index.js', join(d, 'a', '.bin', 'cli'));
    }),
  ).toBe('a/.bin/cli points elsewhere');
  expect(await check((d) => spawnSync('rm', ['-r', join(d, 'a', '.bin')]))).toBe('a/.bin is missing');
});

const asRoot = process.getuid?.() === 0 ? test : test.skip;

/** Runs a shell command as the sandbox's user and says whether it succeeded. */
const asSandbox = (command: string) => spawnSync('sh', ['-c', command], { uid: SANDBOX_UID, gid: SANDBOX_UID }).status === 0;

asRoot('linking: saved and restored files are the worker\'s and read-only; the sandbox user cannot change the entry through them', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sw-cache-'));
  const cache = new DependencyCache(root, 1e9);
  const mode = { link: true, dirOwner: SANDBOX_UID };
  // An installed tree, as the sandbox leaves it: its user's, writable, one file with a second name.
  const src = tree();
  writeFileSync(join(src, 'a', 'shared.js'), 'shared');
  linkSync(join(src, 'a', 'shared.js'), join(src, 'elsewhere.js'));
  spawnSync('chown', ['-R', `${SANDBOX_UID}:${SANDBOX_UID}`, src]);
  chmodSync(src, 0o755);

  const saved = await cache.save('o/p', 'k', 0, join(src, 'a'), mode);
  // The workspace's files are sealed at once, before the hash is done.
  for (const f of ['index.js', 'cli.js']) {
    const st = lstatSync(join(src, 'a', f));
    expect({ uid: st.uid, mode: st.mode & 0o777 }).toEqual({ uid: 0, mode: f === 'cli.js' ? 0o555 : 0o444 });
  }
  // A file with another name is copied into the entry, not linked, and left as it was.
  expect(lstatSync(join(src, 'a', 'shared.js')).uid).toBe(SANDBOX_UID);
  await saved.done;
  const entry = join(cache.scopeDir('o/p'), '0-k', 'node_modules');
  expect(statSync(join(entry, 'index.js')).ino).toBe(statSync(join(src, 'a', 'index.js')).ino);
  expect(statSync(join(entry, 'shared.js')).ino).not.toBe(statSync(join(src, 'a', 'shared.js')).ino);

  // Code running afterwards in the workspace, as the sandbox's user.
  expect(asSandbox(`echo evil >> ${join(src, 'a', 'index.js')}`)).toBe(false);
  expect(asSandbox(`chmod 666 ${join(src, 'a', 'index.js')}`)).toBe(false);
  expect(asSandbox(`truncate -s 0 ${join(src, 'a', 'cli.js')}`)).toBe(false);
  // It may replace a name in its own directories: the entry keeps the original file.
  expect(asSandbox(`rm -f ${join(src, 'a', 'index.js')} && echo evil > ${join(src, 'a', 'index.js')}`)).toBe(true);
  expect(readFileSync(join(entry, 'index.js'), 'utf8')).toBe('module.exports = 1;');

  // A restore links the sealed files and hands the fresh directories to the sandbox.
  const ws = mkdtempSync(join(tmpdir(), 'sw-ws-'));
  spawnSync('chown', [`${SANDBOX_UID}:${SANDBOX_UID}`, ws]);
  const dest = join(ws, 'node_modules');
  expect(await cache.restore('o/p', 'k', 0, dest, mode)).toMatchObject({ hit: true });
  expect(statSync(join(dest, 'index.js')).ino).toBe(statSync(join(entry, 'index.js')).ino);
  expect(lstatSync(join(dest, '.bin')).uid).toBe(SANDBOX_UID);
  expect(asSandbox(`echo evil >> ${join(dest, 'index.js')} || chmod 666 ${join(dest, 'index.js')}`)).toBe(false);
  expect(asSandbox(`echo new > ${join(dest, 'new.js')}`)).toBe(true);
  expect(await cache.restore('o/p', 'k', 0, join(ws, 'again'), mode)).toMatchObject({ hit: true });

  // An entry file made writable (by hand) no longer counts as sealed: removed, rebuilt.
  chmodSync(join(entry, 'index.js'), 0o644);
  expect(await cache.restore('o/p', 'k', 0, join(ws, 'third'), mode)).toMatchObject({ hit: false, why: expect.stringContaining('index.js is writable or not the worker') });
});
