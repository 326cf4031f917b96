import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DependencyCache } from './dependency-cache';
import { giveToSandbox, sandboxNpmCache } from './sandbox';

/**
 * Package managers' download caches, shared by every deployment of the worker (bound writable
 * into each sandbox). Each checks what it takes from its cache against the lockfile's integrity
 * hashes (npm, yarn) or by content address (pnpm's store), so sharing them is safe.
 */
export interface PackageCaches {
  npm: string;
  yarn: string;
  pnpm: string;
}

export function packageCaches(dataDir: string, npmCache: string | undefined, sandboxed: boolean): PackageCaches {
  const root = join(dataDir, 'package-caches');
  const dir = (name: string) => {
    const d = join(root, name);
    const fresh = !existsSync(d);
    mkdirSync(d, { recursive: true });
    if (fresh && sandboxed) giveToSandbox(d);
    return d;
  };
  return { npm: (sandboxed ? sandboxNpmCache(npmCache) : npmCache) ?? dir('npm'), yarn: dir('yarn'), pnpm: dir('pnpm') };
}

/** The variables that point npm, yarn (1 and berry) and pnpm at the shared caches. */
export const packageCacheEnv = (c: PackageCaches): Record<string, string> => ({
  npm_config_cache: c.npm,
  YARN_CACHE_FOLDER: c.yarn,
  // pnpm's store is $PNPM_HOME/store unless configured otherwise (npm warns about a store-dir setting).
  PNPM_HOME: c.pnpm,
});

/** The worker's cache of installed node_modules (STACKWRIGHT_DEPENDENCY_CACHE_MAX_MB). */
export const dependencyCache = (dataDir: string, maxMb: number): DependencyCache => new DependencyCache(join(dataDir, 'caches', 'dependencies'), maxMb * 1024 * 1024);
