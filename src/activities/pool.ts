import type { ActivityDeps } from './context';

/**
 * What a runner pool's worker serves on its pool's queue: taking a deployment, which answers with
 * the worker's own workspace queue (the deployment's steps then run there). Everything else the
 * deployment workflow does (status, recovery, events) runs on the main queue's workers.
 */
export function createPoolActivities(deps: Pick<ActivityDeps, 'sessionQueue'>) {
  return {
    async claimWorkspace(): Promise<string> {
      return deps.sessionQueue;
    },
  };
}
