import type { DeploymentSettings } from '../shared/settings';
import { mergeSettings, stripNulls } from '../shared/merge';

/**
 * A CreateDeploymentRequest's settings fields, as overrides of the stored settings: null (and the
 * empty strings Pulumi's CLI sends for flags it was not given) means "not set".
 */
export function requestOverrides<T extends { operationContext?: { operation?: unknown; preRunCommands?: unknown[] | null } | null }>(request: T): T {
  return withoutOperation(stripNulls(request));
}

/** The settings a deployment runs with: the stored ones (when inherited) with the request's sealed overrides on top. */
export function effectiveSettings(stored: DeploymentSettings | undefined, sealedOverrides: object): DeploymentSettings {
  return stored
    ? mergeSettings<DeploymentSettings>(pinnedSource(stored, sealedOverrides as Parameters<typeof pinnedSource>[1]), sealedOverrides)
    : (sealedOverrides as DeploymentSettings);
}

/**
 * The request's own operation is in `operation`; settings never carry one. An empty pre-run list is
 * what Pulumi's CLI sends when no --pre-run-command was given: not set, the stored commands stay.
 */
function withoutOperation<T extends { operationContext?: { operation?: unknown; preRunCommands?: unknown[] | null } | null }>(r: T): T {
  if (!r.operationContext) return r;
  const { operation: _op, preRunCommands, ...rest } = r.operationContext;
  return { ...r, operationContext: { ...rest, ...(preRunCommands?.length ? { preRunCommands } : {}) } };
}

/** A branch or commit in the request replaces the stored one of the other kind (they are exclusive). */
function pinnedSource(stored: DeploymentSettings, overrides: { sourceContext?: { git?: { branch?: unknown; commit?: unknown } | null } | null }): DeploymentSettings {
  const git = overrides.sourceContext?.git;
  const drop = git?.commit ? 'branch' : git?.branch ? 'commit' : undefined;
  const storedGit = stored.sourceContext?.git;
  if (!drop || !storedGit || !(drop in storedGit)) return stored;
  const { [drop]: _dropped, ...keep } = storedGit;
  return { ...stored, sourceContext: { ...stored.sourceContext, git: keep } };
}
