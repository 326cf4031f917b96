import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StackRef } from '../shared/names';
import { isRoot, SANDBOX_UID } from './sandbox';

/**
 * Where the TypeScript programs of one stack keep what they compiled. Pulumi runs TypeScript through
 * its bundled ts-node, which type-checks and compiles the program on every run (seconds of CPU for
 * a small program) unless its cache (TS_NODE_CACHE_DIRECTORY, keyed by the source's hash and the
 * compiler options) has the output. Its default lives in the sandbox's /tmp, which starts empty
 * each time. One directory per stack: only later deployments of the same stack read what a
 * deployment wrote there.
 */
export const compileCacheDir = (dataDir: string, s: StackRef): string => join(dataDir, 'compile-cache', s.org, s.project, s.stack);

/** The stack's compile cache, made and (as root) handed to the sandbox's user. */
export function prepareCompileCache(dir: string): string {
  mkdirSync(dir, { recursive: true });
  if (isRoot()) chownSync(dir, SANDBOX_UID, SANDBOX_UID);
  return dir;
}
