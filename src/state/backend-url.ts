import { join } from 'node:path';

/** The Pulumi backend a stack's deployments use: the operator's, or a file backend per organization. */
export function stateBackendUrl(dataDir: string, configured: string | undefined, org: string): string {
  return configured ?? `file://${join(dataDir, 'state', org)}`;
}
