import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hono, type Context } from 'hono';
import { csrf } from 'hono/csrf';
import { z } from 'zod';
import { StackRef } from '../shared/names';
import type { DeploymentSettings } from '../shared/settings';
import type { Store } from '../store/store';
import { callApi, stackApiPath, type ApiError, type ApiFetch, type Deployment } from './api-client';
import { endSession, requireCsrfToken, session, startSession, whoIs } from './session';
import { deploymentPage, Layout, Notice, stackPage } from './layout';
import { overviewPage } from './pages/overview';
import { stackPageView } from './pages/stack';
import { deploymentPageView, Steps } from './pages/deployment';
import { settingsChange } from './settings-form';

export interface DashboardDeps {
  store: Store;
  /** The HTTP API, called in-process with the session's token. */
  api: ApiFetch;
  /** Keyed digest (the secrets key): the per-session CSRF token. */
  mac: (text: string) => string;
  temporalUiUrl?: string;
  namespace: string;
}

/** The dashboard's own files and htmx, from the package: the pages load nothing from elsewhere. */
const ASSETS: Record<string, { file: string; type: string }> = {
  'dashboard.css': { file: join(__dirname, 'assets', 'dashboard.css'), type: 'text/css; charset=utf-8' },
  'dashboard.js': { file: join(__dirname, 'assets', 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'htmx.min.js': { file: require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript; charset=utf-8' },
};

// Only what the pages load: scripts and styles from this origin, no inline script.
const CSP = "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The dashboard's paths, beside /api, /codec and /healthz. */
export const PATHS = ['/', '/login', '/logout', '/assets/*', '/orgs/*', '/stacks/*'];

const StackParams = StackRef;
const WithId = StackRef.extend({ id: z.string().min(1) });
const PageQuery = z.object({
  page: z.coerce.number().int().min(1).catch(1),
  status: z.string().optional(),
  error: z.string().max(500).optional(),
  done: z.string().max(500).optional(),
});

/**
 * The web dashboard: server-rendered pages over the HTTP API. Every read and every action goes
 * through the API in-process with the session's token, so the same validation, role checks and
 * audit log apply as for any client; the overview also reads the store for what no route lists.
 */
export function dashboardRoutes(deps: DashboardDeps) {
  const call = <T,>(c: Context, method: string, path: string, body?: unknown) => callApi<T>(deps.api, c.get('dashboard').token, method, path, body);
  const ui = { temporalUiUrl: deps.temporalUiUrl, namespace: deps.namespace };
  const authed = session(deps.api, deps.mac);
  const cache = new Map<string, string>();

  /** Back to a page, with what happened. */
  const back = (c: Context, to: string, res: { status: number; body: unknown }, done: string) => {
    const message = res.status < 400 ? `done=${encodeURIComponent(done)}` : `error=${encodeURIComponent(`${(res.body as ApiError | undefined)?.message ?? 'refused'} (${res.status})`)}`;
    return c.redirect(`${to}?${message}`, 303);
  };

  const app = new Hono();
  // Mounted at the root beside the API: each middleware names the dashboard's own paths.
  for (const path of PATHS) {
    app.use(path, async (c, next) => {
      await next();
      c.header('Content-Security-Policy', CSP);
      c.header('X-Content-Type-Options', 'nosniff');
      c.header('Referrer-Policy', 'same-origin');
    });
    // Origin check on every form POST (the browser's own CSRF guard), before the per-session token.
    app.use(path, csrf());
  }

  app.get('/assets/:file', (c) => {
    const name = c.req.param('file');
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) return c.text('not found', 404);
    let body = cache.get(name);
    if (body === undefined) cache.set(name, (body = readFileSync(asset.file, 'utf8')));
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(body, 200, { 'Content-Type': asset.type });
  });

  const loginPage = (error?: string) => (
    <Layout title="Log in">
      <form method="post" action="/login" class="login">
        <h1>Log in</h1>
        <Notice error={error} />
        <label>
          API token
          <input type="password" name="token" autocomplete="current-password" required autofocus />
        </label>
        <button type="submit">Log in</button>
      </form>
    </Layout>
  );

  app.get('/login', (c) => c.html(loginPage()));
  app.post('/login', async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    if (!token || !(await whoIs(deps.api, token))) return c.html(loginPage('That token is not valid (or has expired).'), 401);
    startSession(c, token);
    return c.redirect('/', 303);
  });

  app.use('/', authed);
  app.use('/logout', authed, requireCsrfToken);
  app.use('/orgs/*', authed);
  app.use('/stacks/*', authed);
  app.on('POST', ['/orgs/*', '/stacks/*'], requireCsrfToken);

  app.post('/logout', (c) => {
    endSession(c);
    return c.redirect('/login', 303);
  });

  app.get('/', async (c) => {
    const q = PageQuery.parse(c.req.query());
    const { user, csrf } = c.get('dashboard');
    return c.html(await overviewPage({ store: deps.store, user, csrf, error: q.error, done: q.done }));
  });

  app.post('/orgs/:org/:action{pause|resume}', async (c) => {
    const { org, action } = c.req.param();
    const res = await call(c, 'POST', `/api/orgs/${encodeURIComponent(org)}/deployments/${action}`);
    return back(c, '/', res, `Organization ${org}: ${action === 'pause' ? 'paused' : 'resumed'}`);
  });

  const S = '/stacks/:org/:project/:stack';
  app.get(S, async (c) => {
    const ref = StackParams.parse(c.req.param());
    const q = PageQuery.parse(c.req.query());
    const pageSize = 20;
    const status = q.status || undefined;
    const api = stackApiPath(ref);
    const list = await call<{ deployments: Deployment[]; total: number } & ApiError>(
      c,
      'GET',
      `${api}/deployments?page=${q.page}&pageSize=${pageSize}${status ? `&status=${encodeURIComponent(status)}` : ''}`,
    );
    if (list.status !== 200) return c.html(<Layout title="Not found">{<Notice error={list.body.message} />}</Layout>, list.status === 404 ? 404 : 400);
    const [meta, settings] = await Promise.all([
      call<{ stackPaused: boolean; organizationPaused: boolean }>(c, 'GET', `${api}/deployments/metadata`),
      call<DeploymentSettings>(c, 'GET', `${api}/deployments/settings`),
    ]);
    const { user, csrf } = c.get('dashboard');
    return c.html(
      stackPageView({
        ref,
        user,
        csrf,
        deployments: list.body.deployments,
        total: list.body.total,
        page: q.page,
        pageSize,
        status,
        paused: meta.body,
        settings: settings.status === 200 ? settings.body : undefined,
        ...ui,
        error: q.error,
        done: q.done,
      }),
    );
  });

  app.post(`${S}/deploy`, async (c) => {
    const ref = StackParams.parse(c.req.param());
    const form = await c.req.parseBody();
    const res = await call<{ id: string; version: number }>(c, 'POST', `${stackApiPath(ref)}/deployments`, { operation: form.operation, inheritSettings: true });
    if (res.status === 202) return c.redirect(`${deploymentPage(ref, res.body.id)}?done=${encodeURIComponent(`Queued deployment ${res.body.version}`)}`, 303);
    return back(c, stackPage(ref), res, '');
  });

  app.post(`${S}/:action{pause|resume}`, async (c) => {
    const ref = StackParams.parse(c.req.param());
    const action = c.req.param('action');
    const res = await call(c, 'POST', `${stackApiPath(ref)}/deployments/${action}`);
    return back(c, stackPage(ref), res, action === 'pause' ? 'Paused the stack' : 'Resumed the stack');
  });

  app.post(`${S}/settings`, async (c) => {
    const ref = StackParams.parse(c.req.param());
    const current = await call<DeploymentSettings>(c, 'GET', `${stackApiPath(ref)}/deployments/settings`);
    const form = await c.req.parseBody();
    const change = settingsChange(current.status === 200 ? current.body : undefined, form);
    if (typeof change === 'string') return c.redirect(`${stackPage(ref)}?error=${encodeURIComponent(change)}`, 303);
    const res = await call(c, 'POST', `${stackApiPath(ref)}/deployments/settings`, change);
    return back(c, stackPage(ref), res, 'Saved the settings');
  });

  const D = `${S}/deployments/:id`;
  const deployment = (c: Context) => {
    const { id, ...ref } = WithId.parse(c.req.param());
    return { id, ref, api: `${stackApiPath(ref)}/deployments/${encodeURIComponent(id)}` };
  };

  app.get(D, async (c) => {
    const { ref, api } = deployment(c);
    const q = PageQuery.parse(c.req.query());
    const res = await call<Deployment & ApiError>(c, 'GET', api);
    if (res.status !== 200) return c.html(<Layout title="Not found">{<Notice error={res.body.message} />}</Layout>, 404);
    // htmx asks for the steps alone while the deployment runs.
    if (c.req.header('HX-Request')) return c.html(<Steps ref={ref} d={res.body} />);
    const { user, csrf } = c.get('dashboard');
    return c.html(deploymentPageView({ ref, d: res.body, user, csrf, ...ui, error: q.error, done: q.done }));
  });

  // The API's Server-Sent Events log stream, with the session's token (EventSource sends no header).
  app.get(`${D}/log`, async (c) => {
    const { api } = deployment(c);
    const headers: Record<string, string> = { Authorization: `token ${c.get('dashboard').token}`, Accept: 'text/event-stream' };
    const lastEventId = c.req.header('Last-Event-ID');
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    return deps.api(new Request(`http://api.internal${api}/logs`, { headers, signal: c.req.raw.signal }));
  });

  app.post(`${D}/:action{cancel|approve|reject}`, async (c) => {
    const { ref, id, api } = deployment(c);
    const action = c.req.param('action');
    const form = await c.req.parseBody();
    const comment = typeof form.comment === 'string' && form.comment.trim() ? form.comment.trim() : undefined;
    const res = await call(c, 'POST', `${api}/${action}`, action === 'cancel' ? undefined : comment ? { comment } : {});
    const done = { cancel: 'Cancel requested', approve: 'Approved', reject: 'Rejected' }[action as 'cancel' | 'approve' | 'reject'];
    return back(c, deploymentPage(ref, id), res, done);
  });

  return app;
}
