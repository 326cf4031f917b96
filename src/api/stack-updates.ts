import type { StackRef } from '../shared/names';
import { PulumiState, type UpdateRecord } from '../state/pulumi-state';
import { HistoryCache } from '../state/history-cache';
import type { ApiDeps } from './deps';

const histories = new HistoryCache();

/** A stack's Pulumi update history (empty for a backend this server cannot read), oldest first. */
export async function stackHistory(deps: Pick<ApiDeps, 'stateBackendUrl'>, ref: StackRef): Promise<UpdateRecord[]> {
  const state = PulumiState.open(deps.stateBackendUrl(ref));
  return state ? histories.history(state.historyDir(ref)) : [];
}

/** The updates a deployment made: each records the deployment's id as `ci.build.id` (PULUMI_CI_BUILD_ID). */
export const updatesOf = (history: UpdateRecord[], deploymentId: string) => history.filter((u) => u.environment?.['ci.build.id'] === deploymentId);

/** Pulumi's DeploymentNestedUpdate. */
export const nestedUpdate = (u: UpdateRecord) => ({
  id: u.updateID,
  updateID: u.updateID,
  version: u.version,
  startTime: u.startTime,
  endTime: u.endTime,
  result: u.result,
  kind: u.kind,
  message: u.message ?? '',
  environment: u.environment ?? {},
});
