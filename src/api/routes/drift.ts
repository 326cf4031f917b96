import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { StackRef } from '../../shared/names';
import type { DeploymentRecord, DriftRunRecord } from '../../store/store';
import { apiError, onInvalid } from '../errors';
import { PageQuery, stackExists } from '../paging';
import { pulumiTime } from '../present';
import type { ApiDeps } from '../deps';

const params = zValidator('param', StackRef, onInvalid());

/** GET .../drift/runs and GET .../drift/status */
export function driftRoutes(deps: ApiDeps) {
  const { store } = deps;

  return new Hono()
    .get('/runs', params, zValidator('query', PageQuery, onInvalid(['query'])), async (c) => {
      const ref = c.req.valid('param');
      const q = c.req.valid('query');
      const { runs, total } = await store.listDriftRuns(ref, q);
      if (total === 0 && !(await stackExists(store, ref))) return apiError(c, 404, 'stack not found');
      return c.json({ driftRuns: runs.map(presentDriftRun), itemsPerPage: q.pageSize, total });
    })
    .get('/status', params, async (c) => {
      const ref = c.req.valid('param');
      if (!(await stackExists(store, ref))) return apiError(c, 404, 'stack not found');
      const status = await store.driftStatus(ref);
      // The spec requires the field: empty when the stack has had no drift run.
      return c.json({ ...status, latestDriftRun: status.latestDriftRun ?? '' });
    });
}

/**
 * A drift run is its deployment: its id is the deployment's, and each of its updates names the
 * deployment that ran that Pulumi operation (Stackwright keeps no separate update records).
 */
function presentDriftRun({ deployment: d, remediation }: DriftRunRecord) {
  const detects = d.operation === 'detect-drift';
  return {
    id: d.id,
    driftDetected: d.driftDetected === true,
    created: pulumiTime(d.created),
    status: d.status,
    deploymentId: d.id,
    deploymentVersion: d.version,
    detectUpdate: detects ? presentUpdate(d) : undefined,
    remediateUpdate: detects ? remediation && presentUpdate(remediation) : presentUpdate(d),
  };
}

const presentUpdate = (d: DeploymentRecord) => ({
  updateId: d.id,
  resourceChanges: d.resourceChanges ?? {},
  modified: pulumiTime(d.modified),
  status: d.status,
});
