import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fetchSource, type FetchSourceOptions } from '../src/activities/git';
import { startGitHttpServer, type GitHttpServer } from './helpers/git-http-server';

jest.setTimeout(30_000);

// Valid branch name (git check-ref-format --branch) that runs `touch pwned` if it ever reaches a shell.
const WEIRD_BRANCH = 'x;$(touch${IFS}pwned)&&>pwned`touch${IFS}pwned`';
// Shell and URL metacharacters, to exercise the askpass script and the masking.
const PASSWORD = `p@ss:w0rd'"$(touch pwned)`;
const TOKEN = 'ghs_0123456789abcdefTOKEN';

let tmp: string;
let bare: string;
let fileURL: string;
let c1: string; // main~1, README "one"
let c2: string; // main, README "two"
let c3: string; // WEIRD_BRANCH, README "weird"
let destCount = 0;

function git(cwd: string, ...args: string[]): string {
  const env = {
    PATH: process.env.PATH,
    HOME: tmp,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
  };
  return execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();
}

function commitFile(work: string, content: string): string {
  fs.writeFileSync(path.join(work, 'README'), content);
  git(work, 'add', 'README');
  git(work, 'commit', '-q', '-m', content);
  return git(work, 'rev-parse', 'HEAD');
}

const newDest = () => path.join(tmp, 'dest', String(++destCount));
const readme = (dest: string) => fs.readFileSync(path.join(dest, 'README'), 'utf8');

function fetchWithLog(o: Omit<FetchSourceOptions, 'log'>) {
  const lines: string[] = [];
  return { lines, result: fetchSource({ allowLocal: true, ...o, log: (line) => lines.push(line) }) };
}

function findPwned(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((p) => path.basename(p) === 'pwned')
    .map((p) => path.join(dir, p));
}

// Non-zombie processes in a process group. Orphaned helpers can linger as zombies when
// PID 1 does not reap (some sandboxes, containers without --init); they are dead all the same.
function liveGroupMembers(pgid: number): string[] {
  return fs.readdirSync('/proc').flatMap((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(pgrp) === pgid && state !== 'Z' ? [stat] : [];
    } catch {
      return [];
    }
  });
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: Error) => err,
  );
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
};

beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'stackwright-git-test-')));
  const work = path.join(tmp, 'work');
  git(tmp, 'init', '-q', '--initial-branch=main', work);
  c1 = commitFile(work, 'one');
  c2 = commitFile(work, 'two');
  git(work, 'checkout', '-q', '-b', WEIRD_BRANCH, c1);
  c3 = commitFile(work, 'weird');
  git(work, 'checkout', '-q', 'main');
  bare = path.join(tmp, 'srv', 'repo.git');
  git(tmp, 'clone', '-q', '--bare', work, bare);
  fileURL = pathToFileURL(bare).href;
});

afterAll(() => {
  expect(findPwned(tmp)).toEqual([]);
  expect(fs.existsSync(path.join(process.cwd(), 'pwned'))).toBe(false);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('fetchSource over file://', () => {
  it('clones the default branch', async () => {
    const dest = newDest();
    const { lines, result } = fetchWithLog({ repoURL: fileURL, dest });
    await expect(result).resolves.toEqual({ commit: c2 });
    expect(readme(dest)).toBe('two');
    expect(lines.some((l) => l.includes('Cloning into'))).toBe(true);
  });

  it.each(['main', 'refs/heads/main'])('clones branch %s shallowly', async (branch) => {
    const dest = newDest();
    await expect(fetchSource({ allowLocal: true, repoURL: fileURL, branch, dest, log: () => {} })).resolves.toEqual({ commit: c2 });
    expect(readme(dest)).toBe('two');
    expect(git(dest, 'rev-parse', '--is-shallow-repository')).toBe('true');
  });

  it('clones a branch whose name is full of shell metacharacters', async () => {
    const dest = newDest();
    await expect(fetchSource({ allowLocal: true, repoURL: fileURL, branch: WEIRD_BRANCH, dest, log: () => {} })).resolves.toEqual({
      commit: c3,
    });
    expect(readme(dest)).toBe('weird');
    expect(findPwned(tmp)).toEqual([]);
  });

  it('fetches a full commit sha shallowly', async () => {
    const dest = newDest();
    await expect(fetchSource({ allowLocal: true, repoURL: fileURL, commit: c1, dest, log: () => {} })).resolves.toEqual({ commit: c1 });
    expect(readme(dest)).toBe('one');
    expect(git(dest, 'rev-parse', '--is-shallow-repository')).toBe('true');
  });

  it('fetches an abbreviated commit sha', async () => {
    const dest = newDest();
    await expect(fetchSource({ allowLocal: true, repoURL: fileURL, commit: c3.slice(0, 8), dest, log: () => {} })).resolves.toEqual({
      commit: c3,
    });
    expect(readme(dest)).toBe('weird');
  });

  it('fails for an unknown commit and removes dest', async () => {
    const dest = newDest();
    await expect(fetchSource({ allowLocal: true, repoURL: fileURL, commit: 'deadbeef', dest, log: () => {} })).rejects.toThrow(
      /git checkout failed with exit code \d+/,
    );
    expect(fs.existsSync(dest)).toBe(false);
  });

  it.each([
    ['a branch', { branch: '--upload-pack=touch pwned' }, /invalid branch name/],
    ['a refs/heads/ branch', { branch: 'refs/heads/-u' }, /invalid branch name/],
    ['a URL', { repoURL: '--upload-pack=touch pwned' }, /invalid repository URL/],
    ['a commit', { commit: '--upload-pack=touch pwned' }, /invalid commit sha/],
  ])('rejects option injection through %s', async (_what, opts, message) => {
    const dest = newDest();
    await expect(fetchSource({ allowLocal: true, repoURL: fileURL, dest, log: () => {}, ...opts })).rejects.toThrow(message);
    expect(fs.existsSync(dest)).toBe(false);
    expect(findPwned(tmp)).toEqual([]);
  });

  it('rejects branch together with commit, and an existing dest', async () => {
    await expect(fetchSource({ allowLocal: true, repoURL: fileURL, branch: 'main', commit: c1, dest: newDest(), log: () => {} })).rejects.toThrow(
      /mutually exclusive/,
    );
    const dest = newDest();
    fs.mkdirSync(dest, { recursive: true });
    await expect(fetchSource({ allowLocal: true, repoURL: fileURL, dest, log: () => {} })).rejects.toThrow(/already exists/);
    expect(fs.existsSync(dest)).toBe(true);
  });
});

describe('fetchSource over authenticated smart HTTP', () => {
  let basicServer: GitHttpServer;
  let tokenServer: GitHttpServer;

  beforeAll(async () => {
    const root = path.dirname(bare);
    basicServer = await startGitHttpServer({ root, username: 'alice', password: PASSWORD });
    tokenServer = await startGitHttpServer({ root, username: 'x-access-token', password: TOKEN });
  });
  afterAll(async () => {
    await basicServer?.close();
    await tokenServer?.close();
  });

  it('clones with basicAuth without logging the password', async () => {
    const dest = newDest();
    const repoURL = `${basicServer.url}/repo.git`;
    const { lines, result } = fetchWithLog({
      repoURL,
      branch: 'main',
      dest,
      auth: { basicAuth: { userName: 'alice', password: PASSWORD } },
    });
    await expect(result).resolves.toEqual({ commit: c2 });
    expect(readme(dest)).toBe('two');
    expect(lines.some((l) => l.includes(repoURL))).toBe(true);
    expect(lines.join('\n')).not.toContain(PASSWORD);
  });

  it('fetches a commit with an accessToken', async () => {
    const dest = newDest();
    const { lines, result } = fetchWithLog({ repoURL: `${tokenServer.url}/repo.git`, commit: c1, dest, auth: { accessToken: TOKEN } });
    await expect(result).resolves.toEqual({ commit: c1 });
    expect(readme(dest)).toBe('one');
    expect(git(dest, 'rev-parse', '--is-shallow-repository')).toBe('true');
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('fails with a wrong password without revealing it', async () => {
    const wrong = 'wrong-Secret-123';
    const dest = newDest();
    const { lines, result } = fetchWithLog({
      repoURL: `${basicServer.url}/repo.git`,
      dest,
      auth: { basicAuth: { userName: 'alice', password: wrong } },
    });
    const err = await rejection(result);
    expect(err.message).toMatch(/git clone failed with exit code 128/);
    expect(err.message).toMatch(/Authentication failed/);
    expect(err.message).not.toContain(wrong);
    expect(lines.join('\n')).not.toContain(wrong);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('fails fast without credentials (no terminal prompt)', async () => {
    await expect(fetchSource({ repoURL: `${basicServer.url}/repo.git`, dest: newDest(), log: () => {} })).rejects.toThrow(
      /git clone failed/,
    );
  });

  it('keeps credentials embedded in the URL out of errors and logs', async () => {
    const wrong = 'url-Secret-456';
    const { lines, result } = fetchWithLog({
      repoURL: `${basicServer.url.replace('//', `//alice:${wrong}@`)}/repo.git`,
      dest: newDest(),
    });
    const err = await rejection(result);
    const text = [err.message, ...lines].join('\n');
    expect(text).not.toContain(wrong);
    expect(text).not.toContain('alice:');
  });
});

describe('fetchSource with sshAuth', () => {
  // A fake `ssh` on PATH records how git invoked it, then runs the remote command locally.
  const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----';
  let recordDir: string;
  let savedPath: string | undefined;
  const recorded = (name: string) => fs.readFileSync(path.join(recordDir, name), 'utf8');

  beforeAll(() => {
    recordDir = path.join(tmp, 'ssh-record');
    const binDir = path.join(tmp, 'bin');
    fs.mkdirSync(recordDir);
    fs.mkdirSync(binDir);
    fs.writeFileSync(
      path.join(binDir, 'ssh'),
      `#!/bin/sh
out='${recordDir}'
printf '%s\\n' "$@" > "$out/args"
env > "$out/env"
while [ $# -gt 1 ]; do
  case "$1" in -i) stat -c %a "$2" > "$out/keymode"; cat "$2" > "$out/key" ;; esac
  shift
done
if [ -n "$SSH_ASKPASS" ]; then "$SSH_ASKPASS" "Enter passphrase for key 'k': " > "$out/passphrase"; fi
exec sh -c "$1"
`,
      { mode: 0o755 },
    );
    savedPath = process.env.PATH;
    process.env.PATH = `${binDir}:${savedPath}`;
    process.env.STACKWRIGHT_TEST_CANARY = 'canary-must-not-leak';
  });
  afterAll(() => {
    process.env.PATH = savedPath;
    delete process.env.STACKWRIGHT_TEST_CANARY;
  });

  it('uses the key in batch mode and passes a minimal environment', async () => {
    const dest = newDest();
    await expect(
      fetchSource({ repoURL: `ssh://git@example.invalid${bare}`, dest, auth: { sshAuth: { sshPrivateKey: KEY } }, log: () => {} }),
    ).resolves.toEqual({ commit: c2 });
    const args = recorded('args').split('\n');
    expect(args).toEqual(expect.arrayContaining(['-i', 'IdentitiesOnly=yes', 'StrictHostKeyChecking=accept-new', 'BatchMode=yes']));
    expect(recorded('keymode').trim()).toBe('600');
    expect(recorded('key')).toBe(`${KEY}\n`);
    expect(fs.existsSync(args[args.indexOf('-i') + 1])).toBe(false); // temp dir removed
    const env = recorded('env');
    expect(env).toContain('GIT_CONFIG_NOSYSTEM=1');
    expect(env).not.toContain('canary-must-not-leak');
  });

  it('answers the key passphrase through SSH_ASKPASS', async () => {
    const dest = newDest();
    await expect(
      fetchSource({
        repoURL: `git@example.invalid:${bare}`,
        commit: c1,
        dest,
        auth: { sshAuth: { sshPrivateKey: KEY, password: PASSWORD } },
        log: () => {},
      }),
    ).resolves.toEqual({ commit: c1 });
    expect(recorded('passphrase')).toBe(`${PASSWORD}\n`);
    const args = recorded('args').split('\n');
    expect(args).toContain('PreferredAuthentications=publickey');
    expect(args).not.toContain('BatchMode=yes');
    expect(recorded('env')).toContain('SSH_ASKPASS_REQUIRE=force');
  });
});

describe('fetchSource abort', () => {
  it('kills the git process group and rejects', async () => {
    // Accepts requests and never answers them.
    const stall = http.createServer(() => {});
    await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
    const requested = new Promise((resolve) => stall.once('request', resolve));
    const ac = new AbortController();
    const pids: number[] = [];
    const dest = newDest();
    try {
      const result = fetchSource({
        repoURL: `http://127.0.0.1:${(stall.address() as AddressInfo).port}/repo.git`,
        dest,
        log: () => {},
        signal: ac.signal,
        onSpawn: (pid) => pids.push(pid),
      });
      await requested;
      ac.abort(new Error('cancelled by test'));
      await expect(result).rejects.toThrow('cancelled by test');
      expect(pids).toHaveLength(1);
      expect(isAlive(pids[0])).toBe(false);
      expect(liveGroupMembers(pids[0])).toEqual([]); // e.g. git-remote-http
      expect(fs.existsSync(dest)).toBe(false);
    } finally {
      stall.closeAllConnections();
      await new Promise((resolve) => stall.close(resolve));
    }
  });

  it('rejects at once when already aborted', async () => {
    const ac = new AbortController();
    ac.abort(new Error('early'));
    await expect(fetchSource({ allowLocal: true, repoURL: fileURL, dest: newDest(), log: () => {}, signal: ac.signal })).rejects.toThrow('early');
  });
});
