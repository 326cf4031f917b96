import { join } from 'node:path';
import { DependencyCache } from './dependency-cache';
import { sandboxNpmCache } from './sandbox';

/**
 * A package download cache shared by deployments: only the one the operator names
 * (STACKWRIGHT_NPM_CACHE, outside the data dir). A shared cache is written by one deployment and
 * read by the next, of any stack: packages fetched from a private registry with one stack's
 * credentials would be readable by another's code, so none is shared unless asked for. Speed
 * comes from the dependency cache, which the worker itself restores per project.
 */
export interface PackageCaches {
  npm?: string;
}

export function packageCaches(npmCache: string | undefined, sandboxed: boolean): PackageCaches {
  return { npm: sandboxed ? sandboxNpmCache(npmCache) : npmCache };
}

/** The variables that point npm at the shared cache, when there is one. */
export const packageCacheEnv = (c: PackageCaches): Record<string, string> => (c.npm ? { npm_config_cache: c.npm } : {});

/** The worker's cache of installed node_modules (STACKWRIGHT_DEPENDENCY_CACHE_MAX_MB). */
export const dependencyCache = (dataDir: string, maxMb: number): DependencyCache => new DependencyCache(join(dataDir, 'caches', 'dependencies'), maxMb * 1024 * 1024);
