import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { except } from 'hono/combine';
import type { ApiDeps } from './deps';
import { apiError, errorHandler } from './errors';
import { gunzipBody } from './gunzip-body';
import { settingsRoutes } from './routes/settings';
import { deploymentRoutes } from './routes/deployments';
import { orgQueueRoutes, stackQueueRoutes } from './routes/queue';
import { driftRoutes } from './routes/drift';
import { webhookRoutes } from './routes/webhooks';
import { orgDeploymentRoutes } from './routes/org-deployments';
import { userRoutes } from './routes/user';
import { projectRoutes, stackRoutes } from './routes/stack';
import { tokenRoutes } from './routes/tokens';
import { auditLogRoutes } from './routes/audit-logs';
import { scheduleRoutes } from './routes/schedules';
import { reviewStackRoutes } from './routes/review-stacks';
import { approvalRoutes } from './routes/approvals';
import { authenticate, authorize, isAdminToken } from './auth';
import { codecRoutes } from '../codec/codec-routes';
import { hookRoutes } from './routes/hooks';
import { chainRoutes, dependentRoutes } from './routes/dependents';
import { createMetrics } from './metrics';
import { oidcRoutes } from './routes/oidc';
import { cacheRoutes } from './routes/cache';
import { docsRoutes } from './openapi/docs-routes';
import { dashboardRoutes } from '../dashboard/routes';
import { agentPoolRoutes } from './routes/agent-pools';

export { apiDeps, type ApiDeps } from './deps';

/** The HTTP API. Paths and fields follow Pulumi Deployments' REST API. */
export function createApp(deps: ApiDeps) {
  const stack = '/api/stacks/:org/:project/:stack';
  const metrics = createMetrics(deps);
  // The dashboard calls this very app, in-process, with its session's token.
  const self = (req: Request): Promise<Response> => Promise.resolve(app.fetch(req));
  const app = new Hono()
    .onError(errorHandler(deps.log))
    .notFound((c) => apiError(c, 404, 'not found'))
    .use('*', metrics.observe)
    .get('/healthz', (c) => c.json({ ok: true }))
    // Public, or protected by STACKWRIGHT_METRICS_TOKEN: not API tokens.
    .route('/', metrics.routes)
    // Public: cloud providers verify deployments' OIDC tokens with these.
    .route('/', oidcRoutes(deps))
    // Decoding reveals every organization's workflow payloads: admins only.
    .route('/codec', deps.codec ? codecRoutes({ ...deps.codec, allows: (t) => isAdminToken(deps, t) }) : new Hono())
    // The API's description is public, like any published API reference.
    .route('/', docsRoutes(deps.publicUrl))
    // Webhooks authenticate by their signatures and have a limit of their own.
    .use('/api/*', except(['/api/webhooks/*', '/api/openapi.json', '/api/docs', '/api/docs/*'], authenticate(deps), authorize))
    // GET and HEAD carry no body, and looking for one makes the Node adapter build a whole Request.
    .use('/api/*', except(['/api/webhooks/*', (c) => c.req.method === 'GET' || c.req.method === 'HEAD'], bodyLimit({ maxSize: 1024 * 1024, onError: (c) => apiError(c, 413, 'request body is larger than 1 MiB') })))
    .use('/api/stacks/*', gunzipBody)
    .route('/', webhookRoutes(deps))
    .route('/', userRoutes(deps))
    .route(stack, stackRoutes(deps))
    .route('/api/stacks/:org/:project', projectRoutes(deps))
    .route(`${stack}/deployments/settings`, settingsRoutes(deps))
    .route(`${stack}/deployments/cache`, cacheRoutes(deps))
    // Before deploymentRoutes, whose GET /:id would otherwise take /metadata and /schedules.
    .route(`${stack}/deployments`, scheduleRoutes(deps))
    .route(`${stack}/deployments`, stackQueueRoutes(deps))
    .route(`${stack}/deployments`, chainRoutes(deps))
    .route(`${stack}/deployments`, deploymentRoutes(deps))
    .route(`${stack}/deployments`, approvalRoutes(deps))
    .route(`${stack}/hooks`, hookRoutes(deps, 'stack'))
    .route(`${stack}/dependents`, dependentRoutes(deps))
    .route('/api/orgs/:org/hooks', hookRoutes(deps, 'org'))
    .route(`${stack}/drift`, driftRoutes(deps))
    // Before orgQueueRoutes: GET / lists; the rest are pause, resume and metadata.
    .route('/api/orgs/:org/deployments', orgDeploymentRoutes(deps))
    .route('/api/orgs/:org/deployments', orgQueueRoutes(deps))
    .route('/api/orgs/:org/auditlogs', auditLogRoutes(deps))
    .route('/api/orgs/:org/review-stacks', reviewStackRoutes(deps))
    .route('/api/orgs/:org/agent-pools', agentPoolRoutes(deps))
    .route('/api/tokens', tokenRoutes(deps))
    .route('/', dashboardRoutes({ store: deps.store, api: self, mac: deps.box.mac, temporalUiUrl: deps.temporalUiUrl, namespace: deps.namespace }));
  return app;
}
