import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { SandboxBind } from '../config';
import { isInside } from './process-tree';

/** How deployments are isolated; `undefined` when STACKWRIGHT_SANDBOX=off. */
export interface SandboxOptions {
  /** Extra host paths from STACKWRIGHT_SANDBOX_BINDS. */
  binds: SandboxBind[];
  /** Package managers' caches shared by deployments (writable). */
  packageCaches?: string[];
}

/** The uid (and gid) deployments run as when Stackwright is root: nobody, never Stackwright's own. */
export const SANDBOX_UID = 65534;

/** The host name inside the sandbox, and so of the Pulumi locks taken there: the host's own, marked. */
export const SANDBOX_HOSTNAME = `${hostname().slice(0, 50)}.sandbox`;

/**
 * The path at which the sandbox also shows the deployment's workspace, the same for every
 * deployment, and where its commands start: ts-node's cache key includes the absolute path of the
 * program's tsconfig.json, which would otherwise differ per deployment and never hit (compile-cache.ts).
 */
export const WORKSPACE_ALIAS = '/deployment';

/** Where the sandbox shows the stack's compile cache: nothing of the data dir's layout is visible. */
export const COMPILE_CACHE_ALIAS = '/deployment-cache';

const LAUNCHER = join(__dirname, 'sandbox-exec.mjs');
export const isRoot = () => process.getuid?.() === 0;

export interface SandboxPaths {
  dataDir: string;
  /** Root of the sandbox's spec and pulumi shim, outside what it can see. */
  runDir: string;
  workspace: string;
  /** This stack's own Pulumi state directory, when the backend is a directory. */
  stateDir?: string;
  pulumiRoot: string;
  /** Variables the sandboxed command may receive (values travel in the environment only). */
  envNames: string[];
  /** The stack's compile cache (writable). */
  compileCache?: string;
}

/**
 * Writes the sandbox description for one deployment (idempotent) and returns the file. The
 * resulting command line, as root:
 *   unshare --net -- bwrap --cap-add CAP_SETUID --cap-add CAP_SETGID --unshare-pid --unshare-ipc --unshare-uts
 *     --unshare-cgroup-try --die-with-parent --new-session --as-pid-1 --hostname sandbox
 *     --ro-bind /usr /usr (and /bin, /lib…, /etc) --proc /proc --dev /dev --tmpfs /tmp --ro-bind <pulumi tools>
 *     --bind <workspace> --bind <stack state> [operator binds] --bind <workspace> /deployment [--bind <compile cache> /deployment-cache] --chdir <cwd>
 *     --info-fd 3 --block-fd 4 --
 *   setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- <command>
 * with slirp4netns --configure --disable-host-loopback attached to the new netns before the command starts.
 */
export function writeSandboxSpec(p: SandboxPaths, opts: SandboxOptions): string {
  mkdirSync(p.runDir, { recursive: true, mode: 0o700 });
  const ro = (path: string) => (existsSync(path) ? ['--ro-bind', path, path] : []);
  const system = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'].flatMap((d) => {
    if (!existsSync(d)) return [];
    const st = lstatSync(d);
    return st.isSymbolicLink() ? ['--symlink', readlinkSync(d), d] : ['--ro-bind', d, d];
  });
  // node (for npm and the language host) and the Pulumi binaries may live outside /usr.
  const node = dirname(dirname(realpathSync(process.execPath)));
  const root = isRoot();
  // As root, bwrap sets up the namespaces with root's rights (it can bind a 0700 data dir's
  // subdirectories) and setpriv then becomes the sandbox's user for good; otherwise a user
  // namespace maps the sandbox's uid onto Stackwright's own.
  const bwrap = [
    ...(root ? ['--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID'] : ['--unshare-user', '--unshare-net', '--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_UID)]),
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--die-with-parent', '--new-session', '--as-pid-1', '--hostname', SANDBOX_HOSTNAME,
    ...system,
    ...ro('/etc'),
    '--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--tmpfs', '/tmp',
  ];
  const binds: SandboxBind[] = [
    ...(isInside(node, '/usr') ? [] : [{ path: node, readOnly: true }]),
    { path: p.pulumiRoot, readOnly: true },
    { path: p.workspace, readOnly: false },
    ...(p.stateDir ? [{ path: p.stateDir, readOnly: false }] : []),
    ...(opts.packageCaches ?? []).map((path) => ({ path, readOnly: false })),
    ...opts.binds,
  ];
  const spec = {
    prefix: root ? ['unshare', '--net', '--'] : [],
    inner: root
      ? ['setpriv', `--reuid=${SANDBOX_UID}`, `--regid=${SANDBOX_UID}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--']
      : [],
    chownTo: root ? SANDBOX_UID : undefined,
    bwrap,
    // Where the binds' parent directories need not be made.
    mounted: ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/proc', '/dev'],
    binds,
    envNames: p.envNames,
    envPrefixes: ['PULUMI_'],
    slirp: ['--configure', '--mtu=65520', '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp'],
    slirpJoinsUserns: !root,
    // Commands start in the workspace as seen at the first path (see compile-cache.ts).
    aliases: [{ path: p.workspace, as: WORKSPACE_ALIAS }, ...(p.compileCache ? [{ path: p.compileCache, as: COMPILE_CACHE_ALIAS }] : [])],
  };
  const file = join(p.runDir, 'sandbox.json');
  writeFileSync(file, JSON.stringify(spec), { mode: 0o600 });
  return file;
}

/** The command line that runs `command` for a deployment: in its sandbox unless sandboxing is off. */
export const sandboxed = (o: { sandboxSpec?: string }, command: string, args: string[]): [string, string[]] =>
  o.sandboxSpec ? inSandbox(o.sandboxSpec, command, args) : [command, args];

/** The command line that runs `command` in the sandbox described by `specFile`. */
export const inSandbox = (specFile: string, command: string, args: string[]): [string, string[]] => [
  process.execPath,
  [LAUNCHER, specFile, command, ...args],
];

const EVENT_FILE_CLI_VERSION = 'v3.205.0';

/**
 * A directory whose bin/pulumi runs the real CLI in the sandbox, for the Automation API, which
 * starts `pulumi` itself (and hands it the program, plugins and language host).
 */
export function pulumiShim(specFile: string, runDir: string, pulumiRoot: string): string {
  const bin = join(runDir, 'pulumi', 'bin');
  mkdirSync(bin, { recursive: true, mode: 0o700 });
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const [node, args] = inSandbox(specFile, join(pulumiRoot, 'bin', 'pulumi'), []);
  // The Automation API follows an operation's events through a gRPC server on the worker's loopback
  // when the CLI is newer than 3.205.0, which the sandbox cannot reach; as 3.205.0 it uses an event
  // log file, which the launcher shares with the sandbox. No other behaviour of it depends on that.
  const script = ['#!/bin/sh', `[ "$1" = version ] && [ $# -eq 1 ] && echo ${EVENT_FILE_CLI_VERSION} && exit 0`, `exec ${[node, ...args].map(q).join(' ')} "$@"`];
  writeFileSync(join(bin, 'pulumi'), `${script.join('\n')}\n`, { mode: 0o700 });
  return dirname(bin);
}

/** Makes the workspace, home and state directories the sandbox writes, and hands them to its user. */
export function prepareSandbox(o: { workspace: string; stateDir?: string; env: Record<string, string> }): void {
  for (const d of [o.env.HOME, o.env.PULUMI_HOME, o.stateDir]) if (d) mkdirSync(d, { recursive: true });
  giveToSandbox(o.workspace);
  if (o.stateDir) giveToSandbox(o.stateDir);
}

/** The shared npm cache, made writable by every sandbox (created when missing). */
export function sandboxNpmCache(dir: string | undefined): string | undefined {
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  giveToSandbox(dir);
  return dir;
}

/**
 * Hands a directory tree to the sandbox's user (as root; nothing to do otherwise). A shared cache
 * changes while this walks it (other deployments' npm adds and removes its temporary files): what
 * is gone by the time it is reached needs nothing.
 */
export function giveToSandbox(dir: string): void {
  if (!isRoot() || !existsSync(dir)) return;
  const walk = (d: string) => {
    const entries = ifPresent(() => (chownSync(d, SANDBOX_UID, SANDBOX_UID), readdirSync(d, { withFileTypes: true })));
    for (const e of entries ?? []) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else if (!e.isSymbolicLink()) ifPresent(() => chownSync(path, SANDBOX_UID, SANDBOX_UID));
    }
  };
  walk(dir);
}

/** `fn`'s result, or undefined when what it works on no longer exists. */
function ifPresent<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
