import { ApplicationFailure } from '@temporalio/activity';
import { planOf, type DeploymentInput } from '../shared/deployment';
import { deploymentWorkflowId } from '../shared/ids';
import { PoolStoreRequest } from '../shared/pool-store';
import type { Store } from '../store/store';
import { recordPoolWorkerStart } from '../store/runner-pools';
import { localWorkspaceStore } from './workspace-store';
import { describeIssues } from '../shared/issues';

const refuse = (message: string) => ApplicationFailure.nonRetryable(message, 'PoolStoreRefused');

/**
 * The store work of runner pools' workers, done on the main queue's workers (see the poolGateway
 * workflow). Only the listed operations, and only on deployments that run in the asking pool: the
 * deployment's identity comes from the store's record, never from the request.
 */
export function poolGatewayActivities(deps: { store: Store }) {
  const local = localWorkspaceStore(deps.store);
  return {
    async poolStoreOperation(pool: string, raw: unknown): Promise<unknown> {
      const parsed = PoolStoreRequest.safeParse(raw);
      if (!parsed.success) throw refuse(`invalid store request: ${describeIssues(parsed.error.issues)}`);
      const req = parsed.data;
      if (req.pool !== pool) throw refuse(`a request of pool ${req.pool} reached the gateway of pool ${pool}`);
      if (req.op === 'workerStarted') return recordPoolWorkerStart(deps.store.db, pool);
      const record = await deps.store.getDeploymentById(req.deploymentId);
      if (!record || planOf(record.settings).pool !== pool) throw refuse(`deployment ${req.deploymentId} does not run in pool ${pool}`);
      const input: DeploymentInput = { org: record.org, project: record.project, stack: record.stack, id: record.id, version: record.version, operation: record.operation };
      switch (req.op) {
        case 'sealedSettings':
          return record.settings;
        case 'passphraseScheme':
          return local.passphraseScheme(input, req.of);
        case 'setStep':
          return local.setStep(record.id, req.step, req.status);
        case 'countLogs':
          return local.countLogs(record.id, req.step);
        case 'appendLogs':
          return local.appendLogs(record.id, req.step, req.lines);
        case 'cacheGeneration':
          return local.cacheGeneration(input);
        case 'recordCacheLookup':
          return local.recordCacheLookup(input, req.result);
        case 'recordChanges':
          return local.recordChanges(record.id, req.changes, req.driftDetected);
        case 'reviewTemplate':
          return (await local.reviewTemplate(input)) ?? null;
        case 'deploymentState':
          return { status: record.status, workflowId: deploymentWorkflowId(record, record.version) };
      }
    },
  };
}
export type PoolGatewayActivities = ReturnType<typeof poolGatewayActivities>;
