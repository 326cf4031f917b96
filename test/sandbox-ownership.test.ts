import fs, { mkdtempSync, statSync, writeFileSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { giveToSandbox, SANDBOX_UID } from '../src/activities/sandbox';

// Handing a tree to the sandbox's user happens as root only (the worker in CI and in production).
const asRoot = process.getuid?.() === 0 ? test : test.skip;

afterEach(() => jest.restoreAllMocks());

asRoot('a file that another deployment removes during the walk is passed over; the rest changes owner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stackwright-give-'));
  writeFileSync(join(dir, 'kept'), 'x');
  const real = fs.readdirSync;
  // npm of another deployment deletes its temporary file between the listing and the chown.
  jest.spyOn(fs, 'readdirSync').mockImplementation(((p: string, o: never) => {
    const entries = real(p, o) as unknown as Dirent[];
    return p === dir ? [...entries, { name: 'gone', isDirectory: () => false, isSymbolicLink: () => false } as Dirent] : entries;
  }) as typeof fs.readdirSync);
  expect(() => giveToSandbox(dir)).not.toThrow();
  expect([statSync(dir).uid, statSync(join(dir, 'kept')).uid]).toEqual([SANDBOX_UID, SANDBOX_UID]);
});

asRoot('other failures still stop it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stackwright-give-'));
  jest.spyOn(fs, 'chownSync').mockImplementation(() => {
    throw Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' });
  });
  expect(() => giveToSandbox(dir)).toThrow('EPERM');
});
