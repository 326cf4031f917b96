import { existsSync, promises as fs, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { cancellationSignal, Context } from '@temporalio/activity';
import type { OpenDeployment, WorkspaceDeps } from './context';
import type { LogWriter } from './log-writer';
import { runProcess } from './run-process';
import { giveToSandbox, isRoot, SANDBOX_UID, sandboxed } from './sandbox';
import { isInside } from './process-tree';
import { cacheKey, LOCKFILES, packageManagerVersion, type CacheMode } from './dependency-cache';

/** The package manager a program uses, judged by its lockfile. */
export function installCommand(dir: string): [string, string[]] | undefined {
  const has = (f: string) => existsSync(join(dir, f));
  if (!has('package.json')) return undefined;
  if (has('pnpm-lock.yaml')) return ['pnpm', ['install', '--frozen-lockfile']];
  if (has('yarn.lock')) return ['yarn', ['install', '--frozen-lockfile']];
  if (has('package-lock.json')) return ['npm', ['ci', '--no-audit', '--no-fund']];
  return ['npm', ['install', '--no-audit', '--no-fund']];
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

export async function installDependencies(o: OpenDeployment, log: LogWriter, deps: WorkspaceDeps): Promise<void> {
  const cmd = installCommand(o.programDir);
  if (!cmd) {
    log.line('No package.json in the program directory; nothing to install.');
    return;
  }
  const cached = await cacheFor(o, deps, cmd[0]);
  const nodeModules = join(o.programDir, 'node_modules');
  if (typeof cached === 'string') log.line(`Dependency cache: not used (${cached}).`);
  else {
    const started = Date.now();
    const r = await cached.restore();
    await deps.workspaceStore.recordCacheLookup(o.input, r.hit ? 'hit' : 'miss');
    if (r.hit) {
      // Copies are handed to the sandbox whole; linked files stay the worker's.
      if (o.sandboxSpec && !cached.mode.link) giveToSandbox(nodeModules);
      log.line(
        `Dependency cache: node_modules restored from cache (${r.manifest.files} entries, ${(r.manifest.bytes / 1e6).toFixed(1)} MB ${cached.mode.link ? 'linked, read-only,' : 'copied'} in ${seconds(started)}).`,
      );
      return;
    }
    log.line(`Dependency cache: miss (${r.why}).`);
  }
  log.line(`$ ${cmd[0]} ${cmd[1].join(' ')}`);
  const code = await runProcess(...sandboxed(o, cmd[0], cmd[1]), {
    cwd: o.programDir,
    env: o.env,
    onOutput: (c) => log.write(c),
    signal: cancellationSignal(),
    killGraceMs: deps.killGraceMs,
  });
  if (code !== 0) throw new Error(`${cmd[0]} exited with code ${code}`);
  if (typeof cached === 'string') return;
  const st = await fs.lstat(nodeModules).catch(() => undefined);
  if (!st?.isDirectory()) return log.line('Dependency cache: nothing saved (the install left no node_modules directory).');
  const started = Date.now();
  try {
    const { bytes, files, evicted, done } = await cached.save();
    const worker = Context.current().log;
    void done.then((r) => r instanceof Error && worker.warn('Dependency cache: an entry could not be completed', { error: r.message }));
    log.line(
      `Dependency cache: node_modules saved (${files} entries, ${(bytes / 1e6).toFixed(1)} MB ${cached.mode.link ? 'made read-only and linked' : 'copied'} in ${seconds(started)}; the entry is usable once hashed, in the background).`,
    );
    if (evicted.length) log.line(`Dependency cache: evicted ${evicted.length} least recently used entr${evicted.length === 1 ? 'y' : 'ies'} to stay within the size bound.`);
  } catch (err) {
    log.line(`Dependency cache: node_modules not saved (${(err as Error).message}).`);
  }
}

/** The cache entry this deployment would use, or why none is used. */
async function cacheFor(o: OpenDeployment, deps: WorkspaceDeps, pm: string) {
  const cache = deps.dependencyCache;
  if (!cache) return 'the worker has no dependency cache';
  if ((o.settings.cacheOptions as { enable?: boolean | null } | null | undefined)?.enable === false) return 'cacheOptions.enable is false';
  const lockfile = LOCKFILES[pm];
  const lockPath = join(o.programDir, lockfile);
  if (!existsSync(lockPath)) return 'no lockfile';
  // The worker writes node_modules itself: only into the checkout, never through a link out of it.
  if (!isInside(realpathSync(o.programDir), realpathSync(o.sourceDir))) return 'the program directory leads out of the repository';
  if (await fs.lstat(join(o.programDir, 'node_modules')).then(() => true, () => false)) return 'the repository has a node_modules entry';
  const generation = await deps.workspaceStore.cacheGeneration(o.input);
  const key = cacheKey({
    packageManager: pm,
    packageManagerVersion: await packageManagerVersion(pm, deps.dataDir),
    lockfile,
    lockfileContent: await fs.readFile(lockPath),
    packageJson: await fs.readFile(join(o.programDir, 'package.json')),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    generation,
  });
  // Shared by the project's stacks, as in Pulumi Deployments.
  const stack = `${o.input.org}/${o.input.project}`;
  const nodeModules = join(o.programDir, 'node_modules');
  // Linking needs files the deployment cannot change: as root, its sandbox runs as another user,
  // who cannot write or chmod the worker's read-only files. Otherwise that user is the worker's own.
  const mode: CacheMode = isRoot() && o.sandboxSpec ? { link: true, dirOwner: SANDBOX_UID } : { link: false };
  return {
    mode,
    restore: () => cache.restore(stack, key, generation, nodeModules, mode),
    save: () => cache.save(stack, key, generation, nodeModules, mode),
  };
}
