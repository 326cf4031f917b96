#!/usr/bin/env node
// Runs one command inside a deployment's sandbox: `node sandbox-exec.mjs <spec.json> <command> [args...]`.
// Plain JavaScript so that the Automation API can start it as its `pulumi` (see sandbox.ts, which
// writes the spec). The spec holds no secret: the deployment's environment arrives in this
// process's environment and is filtered here, never written to a file or a command line.
import { spawn } from 'node:child_process';
import { chownSync, existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname } from 'node:path';

const [specFile, command, ...args] = process.argv.slice(2);
/** @type {{ prefix: string[], chownTo?: number, bwrap: string[], inner: string[], mounted: string[], binds: { path: string, readOnly: boolean }[], envNames: string[], envPrefixes: string[], slirp?: string[], slirpJoinsUserns?: boolean, aliases?: { path: string, as: string }[] }} */
const spec = JSON.parse(readFileSync(specFile, 'utf8'));

const env = {};
for (const [k, v] of Object.entries(process.env)) {
  if (spec.envNames.includes(k) || spec.envPrefixes.some((p) => k.startsWith(p))) env[k] = v;
}

// The Automation API follows an operation through an event log in the worker's temp dir: share that one directory.
const binds = [...spec.binds];
const logAt = args.indexOf('--event-log');
if (logAt >= 0 && args[logAt + 1]) {
  const dir = dirname(args[logAt + 1]);
  // The Automation API creates the (empty) file itself: the sandbox's user must be able to write it.
  if (spec.chownTo !== undefined) for (const p of [dir, args[logAt + 1]]) if (existsSync(p)) chownSync(p, spec.chownTo, spec.chownTo);
  binds.push({ path: dir, readOnly: false });
}
// Each bind's parents are made anew, traversable and empty (bwrap would make them 0700 as root).
const parents = new Set();
for (const b of binds) {
  for (let d = dirname(b.path); d !== '/' && !spec.mounted.some((m) => d === m || d.startsWith(`${m}/`)); d = dirname(d)) parents.add(d);
}
const dirArgs = [...parents].sort((a, b) => a.length - b.length).flatMap((d) => ['--perms', '0755', '--dir', d]);
const bindArgs = [...dirArgs, ...binds.flatMap((b) => [b.readOnly ? '--ro-bind' : '--bind', b.path, b.path])];

const inside = (dir) => process.cwd() === dir || process.cwd().startsWith(`${dir}/`);
let cwd = binds.some((b) => inside(b.path)) ? process.cwd() : '/';
// The workspace (first) and the compile cache are also shown at paths that are the same for every
// deployment, and a command in the workspace starts there, so that what caches by the program's
// path (ts-node) serves the next deployment.
for (const [i, alias] of (spec.aliases ?? []).entries()) {
  bindArgs.push('--bind', alias.path, alias.as);
  if (i === 0 && inside(alias.path)) cwd = alias.as + process.cwd().slice(alias.path.length);
}
const argv = [...spec.prefix, 'bwrap', ...spec.bwrap, ...bindArgs, '--chdir', cwd, '--info-fd', '3', '--block-fd', '4', '--', ...spec.inner, command, ...args];
const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'] });

let sandboxPid;
const pending = [];
// The command is the sandbox's pid 1: signals reach it from here only when it handles them
// (pulumi does SIGINT, its graceful stop); SIGTERM and SIGKILL end bwrap, which takes the sandbox with it.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (sandboxPid) kill(sandboxPid, sig);
    else pending.push(sig);
    if (sig !== 'SIGINT') kill(child.pid, sig);
  });
}

// A worker killed outright cannot stop its sandboxes: once the process that started this one is gone,
// the sandbox goes too (bwrap dies with this process), so no run goes on without its worker.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid === parent) return;
  kill(child.pid, 'SIGKILL');
  process.exit(137);
}, 500).unref();

let info = '';
child.stdio[3].setEncoding('utf8').on('data', (d) => {
  info += d;
  const m = /"child-pid":\s*(\d+)/.exec(info);
  if (!m || sandboxPid) return;
  sandboxPid = Number(m[1]);
  // Outbound network without the host's loopback: user-mode networking in the sandbox's own netns.
  if (!spec.slirp) return start();
  // As root the netns is unshare's, owned by our own user namespace: join it through bwrap's outer
  // process. Otherwise it is bwrap's, and slirp4netns (same user) joins bwrap's user namespace first.
  const target = spec.slirpJoinsUserns ? [`--userns-path=/proc/${sandboxPid}/ns/user`, String(sandboxPid)] : [String(child.pid)];
  const net = spawn('slirp4netns', [...spec.slirp, '--ready-fd', '3', '--exit-fd', '4', ...target, 'tap0'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  let netErr = '';
  net.stderr.setEncoding('utf8').on('data', (d) => (netErr += d));
  net.stdio[3].once('data', start);
  net.once('exit', (code) => {
    if (code === 0 || started) return;
    process.stderr.write(`sandbox: could not set up the network: ${netErr.trim() || `slirp4netns exited with ${code}`}\n`);
    kill(child.pid, 'SIGKILL');
  });
  // slirp4netns ends when this process does (its exit fd closes with us).
  net.stdio[4].on('error', () => undefined);
});
let started = false;
function start() {
  started = true;
  child.stdio[4].end('go');
  for (const sig of pending.splice(0)) kill(sandboxPid, sig);
}
child.stdio[4].on('error', () => undefined);

child.once('error', (err) => {
  process.stderr.write(`sandbox: ${err.message}\n`);
  process.exit(127);
});
child.once('exit', (code, sig) => process.exit(code ?? 128 + (sig ? constants.signals[sig] : 0)));

function kill(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}
