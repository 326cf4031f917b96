import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runProcess } from './run-process';
import { Masker } from './masker';
import { checkRepoHost } from './git-host';
import { repoUrlProblem } from '../shared/repo-url';
import { withFileLock } from './file-lock';

export type GitAuth =
  | { accessToken: string }
  | { basicAuth: { userName: string; password: string } }
  | { sshAuth: { sshPrivateKey: string; password?: string } };

export interface FetchSourceOptions {
  /** https://, http://, file://, ssh:// or scp-like (user@host:path) URL. */
  repoURL: string;
  /** "main" or "refs/heads/main"; mutually exclusive with `commit`. */
  branch?: string;
  /** Full or abbreviated commit sha. */
  commit?: string;
  /** Directory to create; must not exist. Removed again if the fetch fails. */
  dest: string;
  /** Already-decrypted credentials. */
  auth?: GitAuth;
  /** Receives progress lines (credentials masked). */
  log: (line: string) => void;
  /** Abort kills the git process group and rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Called with the pid of every git process spawned (pid is also its process group id). */
  onSpawn?: (pid: number) => void;
  /** file:// URLs and local paths (STACKWRIGHT_ALLOW_LOCAL_REPOS); refused otherwise. */
  allowLocal?: boolean;
  /**
   * A bare mirror to fetch into (incrementally, under a file lock) and check `dest` out from; the
   * caller keys it by repository and credentials. Without it, `dest` is cloned directly.
   */
  mirror?: string;
}

const KILL_GRACE_MS = 5000;
const ERROR_TAIL_LINES = 10;

// Answers git's "Username for ..." prompt with the user name and every other prompt
// (git's "Password for ...", ssh's "Enter passphrase for key ...") with the password.
const ASKPASS_SCRIPT = `#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$STACKWRIGHT_GIT_USERNAME" ;;
  *) printf '%s\\n' "$STACKWRIGHT_GIT_PASSWORD" ;;
esac
`;

interface GitContext {
  allowLocal?: boolean;
  env: NodeJS.ProcessEnv;
  secrets: string[];
  log: (line: string) => void;
  signal?: AbortSignal;
  onSpawn?: (pid: number) => void;
}

export async function fetchSource(o: FetchSourceOptions): Promise<{ commit: string }> {
  const { repoURL, commit, log, signal } = o;
  const branch = o.branch?.replace(/^refs\/heads\//, '');
  if (branch !== undefined && commit !== undefined) {
    throw new Error('fetchSource: branch and commit are mutually exclusive');
  }
  // A leading '-' would be parsed by git (or ssh) as an option, e.g. --upload-pack=<command>.
  if (!repoURL || repoURL.startsWith('-')) {
    throw new Error(`fetchSource: invalid repository URL ${JSON.stringify(redactURL(repoURL))}`);
  }
  if (branch !== undefined && (!branch || branch.startsWith('-'))) {
    throw new Error(`fetchSource: invalid branch name ${JSON.stringify(o.branch)}`);
  }
  if (commit !== undefined && !/^[0-9a-f]{4,64}$/i.test(commit)) {
    throw new Error(`fetchSource: invalid commit sha ${JSON.stringify(commit)}`);
  }
  const problem = repoUrlProblem(repoURL, o.allowLocal ?? false);
  if (problem) throw new Error(`fetchSource: ${problem}`);
  await checkRepoHost(repoURL);
  signal?.throwIfAborted();
  // Absolute, so it can never look like an option either.
  const dest = path.resolve(o.dest);
  if (await fs.lstat(dest).then(() => true, () => false)) {
    throw new Error(`fetchSource: destination ${dest} already exists`);
  }

  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stackwright-git-'));
  try {
    const ctx = { ...(await authContext(o, tmp)), allowLocal: o.allowLocal ?? false };
    const git = (args: string[], capture = false) => runGit(args, ctx, capture);
    log(`Fetching ${redactURL(repoURL)} (${branch ? `branch ${branch}` : commit ? `commit ${commit}` : 'default branch'})`);
    try {
      if (o.mirror) {
        const mirror = o.mirror;
        await fs.mkdir(path.dirname(mirror), { recursive: true });
        const sha = await withFileLock(`${mirror}.lock`, () => fetchIntoMirror(mirror, repoURL, branch, commit, ctx), signal);
        await checkoutFromMirror(o.mirror, sha, repoURL, dest, ctx);
      } else if (commit) {
        await git(['init', '-q', '--initial-branch=main', '--', dest]);
        await git(['-C', dest, 'remote', 'add', '--', 'origin', repoURL]);
        let fetched = false;
        // Servers only resolve full object names; abbreviated ones need the whole history.
        if (commit.length === 40 || commit.length === 64) {
          fetched = await git(['-C', dest, 'fetch', '--progress', '--depth', '1', 'origin', commit]).then(
            () => true,
            (err: unknown) => {
              if (signal?.aborted) throw err;
              log('Shallow fetch of the commit failed; fetching the full history instead');
              return false;
            },
          );
        }
        if (!fetched) await git(['-C', dest, 'fetch', '--progress', '--tags', 'origin']);
        await git(['-C', dest, 'checkout', '-q', '--detach', `${commit}^{commit}`]);
      } else {
        const branchArgs = branch ? ['--branch', branch] : [];
        await git(['clone', '--progress', '--depth', '1', ...branchArgs, '--single-branch', '--', repoURL, dest]);
      }
      const head = (await git(['-C', dest, 'rev-parse', 'HEAD'], true)).trim();
      log(`Checked out ${head}`);
      return { commit: head };
    } catch (err) {
      // Leave nothing behind so that a retry (e.g. a Temporal activity retry) can use the same dest.
      await fs.rm(dest, { recursive: true, force: true });
      throw err;
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Brings the mirror up to date for what the deployment asks for and returns the commit: a known
 * commit needs no fetch; a branch (or the default branch) is fetched with a forced refspec, so a
 * force-push simply moves it. Runs under the mirror's lock.
 */
async function fetchIntoMirror(mirror: string, repoURL: string, branch: string | undefined, commit: string | undefined, ctx: GitContext): Promise<string> {
  const base = ctx;
  const git = (args: string[], capture = false) => runGit(args, ctx, capture);
  const quiet = (args: string[]) => runGit(args, { ...ctx, log: () => {} }, true).then((out) => out.trim(), () => undefined);
  if (!(await fs.stat(path.join(mirror, 'HEAD')).then(() => true, () => false))) {
    await fs.rm(mirror, { recursive: true, force: true });
    await git(['init', '-q', '--bare', '--', mirror]);
    // Checkouts fetch one commit by its name from the mirror.
    await git(['-C', mirror, 'config', 'uploadpack.allowAnySHA1InWant', 'true']);
  } else {
    base.log(`Using the repository mirror (last fetched ${(await fs.stat(mirror)).mtime.toISOString()})`);
  }
  // The mirror's modification time is its last use: unused mirrors are pruned.
  const touch = () => fs.utimes(mirror, new Date(), new Date()).catch(() => undefined);
  if (commit) {
    const known = await quiet(['-C', mirror, 'rev-parse', '--verify', '--quiet', `${commit}^{commit}`]);
    if (known) {
      base.log(`Commit ${known} is already in the mirror; nothing to fetch`);
      await touch();
      return known;
    }
    await git(['-C', mirror, 'fetch', '--progress', '--prune', '--', repoURL, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']);
    let sha = await quiet(['-C', mirror, 'rev-parse', '--verify', '--quiet', `${commit}^{commit}`]);
    if (!sha && (commit.length === 40 || commit.length === 64)) {
      // Not on a branch or tag any more (e.g. force-pushed away): servers may still serve it by name.
      await git(['-C', mirror, 'fetch', '--progress', '--', repoURL, `+${commit}:refs/stackwright/commits/${commit}`]);
      sha = await quiet(['-C', mirror, 'rev-parse', '--verify', '--quiet', `${commit}^{commit}`]);
    }
    if (!sha) throw new Error(`commit ${commit} is not in the repository`);
    await touch();
    return sha;
  }
  const [remote, local] = branch ? [`refs/heads/${branch}`, `refs/heads/${branch}`] : ['HEAD', 'refs/stackwright/default-branch'];
  await git(['-C', mirror, 'fetch', '--progress', '--no-tags', '--', repoURL, `+${remote}:${local}`]);
  const sha = await quiet(['-C', mirror, 'rev-parse', '--verify', '--quiet', `${local}^{commit}`]);
  if (!sha) throw new Error(`${branch ? `branch ${branch}` : 'the default branch'} could not be resolved`);
  await touch();
  return sha;
}

/** A shallow checkout of exactly `sha` from the mirror; its origin is the repository itself. */
async function checkoutFromMirror(mirror: string, sha: string, repoURL: string, dest: string, base: GitContext): Promise<void> {
  // The mirror is a local path of Stackwright's own, whatever repoURL's transport is.
  const ctx = { ...base, allowLocal: true };
  const git = (args: string[]) => runGit(args, ctx, false);
  await git(['init', '-q', '--initial-branch=main', '--', dest]);
  await git(['-C', dest, 'fetch', '-q', '--depth', '1', '--', mirror, sha]);
  await git(['-C', dest, 'checkout', '-q', '--detach', sha]);
  await git(['-C', dest, 'remote', 'add', '--', 'origin', redactURL(repoURL)]);
}

/** Removes mirrors not used for `maxAgeMs`, each under its lock (skipped when a fetch holds it). */
export async function pruneMirrors(root: string, maxAgeMs: number): Promise<string[]> {
  const pruned: string[] = [];
  for (const name of await fs.readdir(root).catch(() => [] as string[])) {
    if (!name.endsWith('.git')) continue;
    const dir = path.join(root, name);
    const st = await fs.stat(dir).catch(() => undefined);
    if (!st || Date.now() - st.mtimeMs < maxAgeMs) continue;
    const code = await runProcess('flock', ['-n', `${dir}.lock`, 'rm', '-rf', '--', dir], { env: { PATH: process.env.PATH } }).catch(() => 1);
    if (code === 0) pruned.push(name);
  }
  return pruned;
}

/** Minimal child environment plus whatever the credentials need, and the strings to mask in output. */
async function authContext(o: FetchSourceOptions, tmp: string): Promise<GitContext> {
  // Not process.env: the worker's environment holds Stackwright's own secrets.
  const env: NodeJS.ProcessEnv = { GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
  for (const name of ['PATH', 'HOME', 'LANG']) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  const secrets = urlPasswords(o.repoURL);
  const askpass = path.join(tmp, 'askpass.sh');
  const auth = o.auth;

  if (auth && 'sshAuth' in auth) {
    const { sshPrivateKey, password } = auth.sshAuth;
    const keyFile = path.join(tmp, 'id_key');
    // OpenSSH refuses keys without a trailing newline and keys readable by others.
    await fs.writeFile(keyFile, sshPrivateKey.endsWith('\n') ? sshPrivateKey : `${sshPrivateKey}\n`, { mode: 0o600 });
    const ssh = ['ssh', '-i', shellQuote(keyFile), '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=accept-new'];
    if (password) {
      await fs.writeFile(askpass, ASKPASS_SCRIPT, { mode: 0o700 });
      Object.assign(env, {
        SSH_ASKPASS: askpass,
        SSH_ASKPASS_REQUIRE: 'force',
        DISPLAY: ':0',
        STACKWRIGHT_GIT_PASSWORD: password,
      });
      // Without BatchMode ssh could fall back to password authentication and send the
      // key passphrase (our askpass answer) to the server as a login password.
      ssh.push('-o', 'PreferredAuthentications=publickey');
      secrets.push(password);
    } else {
      ssh.push('-o', 'BatchMode=yes');
    }
    env.GIT_SSH_COMMAND = ssh.join(' ');
  } else if (auth) {
    const [userName, password] =
      'accessToken' in auth
        ? ['x-access-token', auth.accessToken] // only asked for if the URL carries no user name
        : [auth.basicAuth.userName, auth.basicAuth.password];
    await fs.writeFile(askpass, ASKPASS_SCRIPT, { mode: 0o700 });
    Object.assign(env, {
      GIT_ASKPASS: askpass,
      STACKWRIGHT_GIT_USERNAME: userName,
      STACKWRIGHT_GIT_PASSWORD: password,
    });
    secrets.push(password);
  }
  return {
    env,
    // Longest first, so a secret containing another is masked whole.
    secrets: secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length),
    log: o.log,
    signal: o.signal,
    onSpawn: o.onSpawn,
  };
}

/**
 * An empty credential.helper resets the list, so helpers from the user's config are ignored; hooks
 * never run (git runs outside the sandbox); only the transports repoURL may name are enabled.
 */
const SAFE_GIT_CONFIG = [
  '-c', 'credential.helper=',
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'protocol.allow=never',
  '-c', 'protocol.https.allow=always',
  '-c', 'protocol.http.allow=always',
  '-c', 'protocol.ssh.allow=always',
];

/** Runs git (never through a shell), streaming output lines to ctx.log; resolves with stdout when `capture`. */
async function runGit(args: string[], ctx: GitContext, capture: boolean): Promise<string> {
  const { signal } = ctx;
  const masker = new Masker(ctx.secrets);
  const mask = (line: string) => masker.mask(line);
  const subcommand = args[0] === '-C' ? args[2] : args[0];
  ctx.log(mask(`$ git ${args.map((a) => (/^[a-z]+:\/\//i.test(a) ? redactURL(a) : a)).join(' ')}`));

  let stdout = '';
  const stderrTail: string[] = [];
  const errLines = lineSplitter(mask, (line) => {
    ctx.log(line);
    stderrTail.push(line);
    if (stderrTail.length > ERROR_TAIL_LINES) stderrTail.shift();
  });
  const outLines = lineSplitter(mask, ctx.log);
  let code: number;
  try {
    code = await runProcess('git', [...SAFE_GIT_CONFIG, ...(ctx.allowLocal ? ['-c', 'protocol.file.allow=always'] : []), ...args], {
      env: ctx.env,
      signal,
      killGraceMs: KILL_GRACE_MS,
      onSpawn: ctx.onSpawn,
      onStdout: (chunk) => (capture ? (stdout += chunk) : outLines.write(chunk)),
      onStderr: (chunk) => errLines.write(chunk),
    });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new Error(`failed to run git ${subcommand}: ${(err as Error).message}`);
  } finally {
    errLines.end();
    outLines.end();
  }
  if (code !== 0) {
    const detail = stderrTail.length ? `:\n${stderrTail.join('\n')}` : '';
    throw new Error(`git ${subcommand} failed with exit code ${code}${detail}`);
  }
  return stdout;
}

/** Splits output into masked, non-empty lines; git rewrites progress lines in place with '\r'. */
function lineSplitter(mask: (line: string) => string, onLine: (line: string) => void) {
  let partial = '';
  return {
    write(chunk: string) {
      const lines = (partial + chunk).split(/\r\n|\r|\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(mask(line.trimEnd()));
    },
    end() {
      if (partial.trim()) onLine(mask(partial.trimEnd()));
      partial = '';
    },
  };
}

/** Drops the password from URLs with a user-info part; scp-like and local paths pass through. */
function redactURL(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

function urlPasswords(url: string): string[] {
  try {
    const { password } = new URL(url);
    return password ? [password, decodeURIComponent(password)] : [];
  } catch {
    return [];
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
