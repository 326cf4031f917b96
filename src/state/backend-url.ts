import { join } from 'node:path';
import type { StackRef } from '../shared/names';

/** A file backend of the stack's own: the sandbox is given this directory and no other stack's. */
export const stackStateDir = (dataDir: string, s: StackRef): string => join(dataDir, 'stacks', s.org, s.project, s.stack);

/** The Pulumi backend a stack's deployments use: the operator's, or the stack's own file backend. */
export function stateBackendUrl(dataDir: string, configured: string | undefined, s: StackRef): string {
  return configured ?? `file://${stackStateDir(dataDir, s)}`;
}
