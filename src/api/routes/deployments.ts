import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { StackRef } from '../../shared/names';
import { CreateDeploymentRequest } from '../../shared/deployment';
import { runnableIssues } from '../../shared/settings';
import { foreignCiphertexts, sealSecrets } from '../../shared/secrets';
import { moveUrlCredentials, repoUrlIssues } from '../../shared/repo-url';
import { deploymentWorkflowId } from '../../shared/ids';
import { QueueUnavailable, requestDeployment } from '../../deployments/queue';
import { effectiveSettings, requestOverrides } from '../../deployments/request-settings';
import { IDEMPOTENCY_KEY_PATTERN, IdempotencyConflict, requestHash } from '../../deployments/idempotency';
import { apiError, badRequest, onInvalid } from '../errors';
import { stackExists } from '../paging';
import { requireJson } from '../json-body';
import { presentDeployment } from '../present';
import { nestedUpdate, stackHistory, updatesOf } from '../stack-updates';
import { badToken, readLogs, TOKEN_PATTERN } from '../logs';
import { streamLogs } from '../log-stream';
import { ListQuery } from '../list-query';
import { audit, deploymentTarget } from '../audit';
import type { ApiDeps } from '../deps';

const params = zValidator('param', StackRef, onInvalid());
const withId = zValidator('param', StackRef.extend({ id: z.string() }), onInvalid());
const Version = z.coerce.number({ error: 'expected an integer' }).int('expected an integer').min(1, 'versions start at 1').max(2 ** 31 - 1);
const withVersion = zValidator('param', StackRef.extend({ version: Version }), onInvalid());

export const LogsQuery = z.object({
  continuationToken: z.string().regex(TOKEN_PATTERN, 'expected a token returned by an earlier call').optional(),
  job: z.coerce.number().int().min(0).max(0).optional(),
  step: z.coerce.number().int().min(0).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  count: z.coerce.number().int().min(1).max(499).default(100),
});

/**
 * POST/GET .../deployments, GET .../deployments/{id}, GET .../deployments/version/{version},
 * GET .../deployments/{id}/logs (JSON, or Server-Sent Events for `Accept: text/event-stream`)
 */
export function deploymentRoutes(deps: ApiDeps) {
  const { store } = deps;

  return new Hono()
    .post('/', params, requireJson, zValidator('json', CreateDeploymentRequest, onInvalid()), async (c) => {
      const ref = c.req.valid('param');
      const body = c.req.valid('json');
      const key = c.req.header('Idempotency-Key');
      if (key !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(key)) {
        return badRequest(c, [{ path: ['Idempotency-Key'], message: 'expected 1 to 255 printable ASCII characters without spaces' }], ['header']);
      }
      const { operation, inheritSettings, ...request } = body;
      const overrides = requestOverrides(request);
      const stored = inheritSettings ? await store.getSettings(ref) : undefined;
      if (inheritSettings && !stored && Object.keys(overrides).length === 0) {
        return apiError(c, 404, 'this stack has no deployment settings; store some or send them in the request');
      }
      const foreign = foreignCiphertexts(overrides, deps.box.decrypt);
      if (foreign.length) return badRequest(c, foreign);
      const urlIssues = repoUrlIssues(overrides.sourceContext?.git?.repoURL ?? undefined, deps.allowLocalRepos ?? false);
      if (urlIssues.length) return badRequest(c, urlIssues);
      const sealed = sealSecrets(moveUrlCredentials(overrides), deps.box.encrypt);
      const settings = effectiveSettings(stored?.settings, sealed);
      const issues = runnableIssues(settings);
      if (issues.length) return badRequest(c, issues);

      const initiator = c.req.header('X-Pulumi-Deployment-Initiator')?.slice(0, 32) || 'api';
      // The body as sent (secrets in clear, keyed digest): sealing is randomized, the request is not.
      const idempotency = key === undefined ? undefined : { key, requestHash: requestHash({ body, initiator }, deps.box.mac) };
      try {
        const record = await requestDeployment(deps, ref, { operation, settings, inheritSettings, initiator, requestedBy: c.get('identity').name }, idempotency);
        if (record.replayed) c.header('Idempotent-Replayed', 'true');
        else {
          await audit(c, deps, {
            org: ref.org,
            event: 'deployment.create',
            target: deploymentTarget(ref, record.id),
            description: `Queued ${operation} deployment ${record.version}`,
          });
        }
        return c.json({ id: record.id, version: record.version, consoleUrl: consoleUrl(deps, ref, record.version, record.id) }, 202);
      } catch (err) {
        if (err instanceof QueueUnavailable) return apiError(c, 503, err.message);
        if (err instanceof IdempotencyConflict) return apiError(c, 422, err.message);
        throw err;
      }
    })
    .get('/', params, zValidator('query', ListQuery, onInvalid(['query'])), async (c) => {
      const ref = c.req.valid('param');
      const q = c.req.valid('query');
      const latest = await store.latestVersion(ref);
      if (latest === 0 && !(await stackExists(store, ref))) return apiError(c, 404, 'stack not found');
      const page = await store.listDeployments(ref, q, latest);
      const history = await stackHistory(deps, ref);
      return c.json({
        deployments: page.deployments.map((d) => presentDeployment(d, latest, updatesOf(history, d.id).map(nestedUpdate))),
        itemsPerPage: q.pageSize,
        total: page.total,
      });
    })
    .get('/version/:version', withVersion, async (c) => {
      const { version, ...ref } = c.req.valid('param');
      const d = await store.getDeploymentByVersion(ref, version);
      if (!d) return apiError(c, 404, 'deployment not found');
      return c.json(presentDeployment(d, await store.latestVersion(ref), updatesOf(await stackHistory(deps, ref), d.id).map(nestedUpdate)));
    })
    .get('/:id', withId, async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const d = await store.getDeployment(ref, id);
      if (!d) return apiError(c, 404, 'deployment not found');
      return c.json(presentDeployment(d, await store.latestVersion(ref), updatesOf(await stackHistory(deps, ref), d.id).map(nestedUpdate)));
    })
    .get('/:id/logs', withId, zValidator('query', LogsQuery, onInvalid(['query'])), async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const d = await store.getDeployment(ref, id);
      if (!d) return apiError(c, 404, 'deployment not found');
      const q = c.req.valid('query');
      if (q.step !== undefined && q.step >= d.steps.length) {
        return badRequest(c, [{ path: ['step'], message: `this deployment has ${d.steps.length} steps (0-based)` }], ['query']);
      }
      const follow = c.req.header('Accept')?.includes('text/event-stream') ?? false;
      // A reconnecting EventSource names the last event it saw; that is newer than the URL's token.
      const lastEventId = follow ? c.req.header('Last-Event-ID') : undefined;
      const from = lastEventId || q.continuationToken;
      const invalid = from === undefined ? undefined : badToken(d, from);
      if (invalid) {
        const field = lastEventId ? ['header', 'Last-Event-ID'] : ['query', 'continuationToken'];
        return badRequest(c, [{ path: field, message: invalid }]);
      }
      if (follow) {
        if (q.step !== undefined) return badRequest(c, [{ path: ['step'], message: 'step mode is not available as an event stream' }], ['query']);
        return streamLogs(c, { store, log: deps.log, deploymentId: d.id, from, timing: deps.logStream });
      }
      return c.json(await readLogs(store, d, q));
    });
}

function consoleUrl(deps: ApiDeps, ref: StackRef, version: number, id: string): string {
  if (!deps.temporalUiUrl) return `${deps.publicUrl}/api/stacks/${ref.org}/${ref.project}/${ref.stack}/deployments/${id}`;
  const wf = encodeURIComponent(deploymentWorkflowId(ref, version));
  return `${deps.temporalUiUrl}/namespaces/${encodeURIComponent(deps.namespace)}/workflows/${wf}`;
}
