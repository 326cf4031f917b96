import { randomBytes } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { openApiPath } from '../src/api/openapi/document';
import { startApiApp, type ApiApp } from './helpers/api-app';
import { PATHS as DASHBOARD_PATHS } from '../src/dashboard/routes';

// The OpenAPI description against the app itself: every route is described, and the answers of
// the main routes (in-process, real SQLite store, a Temporal client that accepts every call)
// validate against the description's schemas.

const TOKEN = randomBytes(24).toString('base64url');
let api: ApiApp;
let app: ApiApp['app'];
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

beforeAll(async () => {
  api = await startApiApp({ name: 'openapi', token: TOKEN });
  ({ app } = api);
  const res = await app.request('/api/openapi.json');
  expect(res.status).toBe(200);
  doc = await res.json();
});

afterAll(() => api?.close());

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const dashboardPage = (path: string) => DASHBOARD_PATHS.some((p) => path === p || (p.endsWith('/*') && path.startsWith(p.slice(0, -1))));
/** The routes of the HTTP API: every route of the app but the dashboard's HTML pages. */
const apiRoutes = () => [...new Set(app.routes.filter((r) => METHODS.includes(r.method) && !dashboardPage(r.path)).map((r) => `${r.method.toLowerCase()} ${r.path}`))];

test('the description is OpenAPI 3.1, public, and names every route of the app; nothing else', async () => {
  expect(doc.openapi).toBe('3.1.0');
  const routes = apiRoutes();
  expect(routes.length).toBeGreaterThan(70);
  const missing = routes.filter((r) => {
    const [method, path] = r.split(' ');
    return !doc.paths[openApiPath(path)]?.[method];
  });
  expect(missing).toEqual([]);

  const described = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m} ${path}`));
  const real = new Set(routes.map((r) => r.replace(/:(\w+)/g, '{$1}')));
  expect(described.filter((d) => !real.has(d))).toEqual([]);

  // Each path parameter is declared, and every operation can be tried with a token.
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const op of Object.values<any>(ops)) {
      expect((op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name).sort()).toEqual([...names].sort());
    }
  }
  expect(doc.components.securitySchemes.token).toMatchObject({ type: 'apiKey', in: 'header', name: 'Authorization' });
});

test('request schemas are the routes\' own: a body the route refuses is one the description refuses', () => {
  const create = doc.paths['/api/stacks/{org}/{project}/{stack}/deployments'].post.requestBody.content['application/json'].schema;
  const check = ajv.compile(create);
  expect(check({ operation: 'update' })).toBe(true);
  expect(check({ operation: 'launch' })).toBe(false);
  const query = doc.paths['/api/stacks/{org}/{project}/{stack}/deployments'].get.parameters.find((p: any) => p.name === 'pageSize');
  expect(query.schema).toMatchObject({ maximum: 100, minimum: 1 });
});

/** Calls the app and checks the answer against the description's schema for the route and status. */
async function answers(method: string, template: string, path: string, o: { body?: unknown; token?: string | null } = {}) {
  const headers: Record<string, string> = {};
  if (o.token !== null) headers.Authorization = `token ${o.token ?? TOKEN}`;
  if (o.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await app.request(path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const op = doc.paths[template]?.[method.toLowerCase()];
  expect(op).toBeDefined();
  const described = op.responses[String(res.status)];
  if (!described) throw new Error(`${method} ${path}: status ${res.status} is not described (${await res.text()})`);
  const body: any = res.status === 204 ? undefined : await res.json();
  const schema = described.content?.['application/json']?.schema;
  if (schema) {
    const validate = ajv.compile(schema);
    if (!validate(body)) throw new Error(`${method} ${path} (${res.status}): ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
  }
  return { status: res.status, body };
}

test('answers of the main routes validate against the description', async () => {
  const S = '/api/stacks/{org}/{project}/{stack}';
  const D = `${S}/deployments`;
  const s = '/api/stacks/acme/website/dev';
  const settings = {
    sourceContext: { git: { repoURL: 'https://git.example.com/acme/website.git', branch: 'refs/heads/main' } },
    operationContext: { environmentVariables: { STAGE: 'dev', API_KEY: { secret: 'hunter2' } } },
  };

  expect((await answers('GET', '/healthz', '/healthz', { token: null })).status).toBe(200);
  expect((await answers('GET', '/api/user', '/api/user')).status).toBe(200);
  expect((await answers('GET', '/api/user', '/api/user', { token: 'wrong' })).status).toBe(401);
  expect((await answers('POST', `${D}/settings`, `${s}/deployments/settings`, { body: settings })).status).toBe(200);
  expect((await answers('PUT', `${D}/settings`, `${s}/deployments/settings`, { body: { ...settings, unknown: 1 } })).status).toBe(400);
  const stored = await answers('GET', `${D}/settings`, `${s}/deployments/settings`);
  expect(stored.body.operationContext.environmentVariables.API_KEY).toEqual({ ciphertext: expect.any(String) });
  expect((await answers('GET', S, s)).status).toBe(200);

  const created = await answers('POST', D, `${s}/deployments`, { body: { operation: 'update' } });
  expect(created.status).toBe(202);
  expect((await answers('POST', D, `${s}/deployments`, { body: { operation: 'launch' } })).status).toBe(400);
  const list = await answers('GET', D, `${s}/deployments?status=not-started`);
  expect(list.body.total).toBe(1);
  const one = await answers('GET', `${D}/{id}`, `${s}/deployments/${created.body.id}`);
  expect(one.body.configuration.environmentVariables).toContainEqual({ name: 'API_KEY', secret: true });
  expect((await answers('GET', `${D}/{id}`, `${s}/deployments/nope`)).status).toBe(404);
  expect((await answers('GET', `${D}/version/{version}`, `${s}/deployments/version/1`)).status).toBe(200);
  expect((await answers('GET', `${D}/{id}/logs`, `${s}/deployments/${created.body.id}/logs`)).status).toBe(200);
  expect((await answers('GET', '/api/orgs/{org}/deployments', '/api/orgs/acme/deployments')).body.total).toBe(1);

  expect((await answers('POST', `${D}/pause`, `${s}/deployments/pause`)).body.stackPaused).toBe(true);
  expect((await answers('POST', `${D}/resume`, `${s}/deployments/resume`)).body.stackPaused).toBe(false);
  expect((await answers('GET', `${D}/metadata`, `${s}/deployments/metadata`)).status).toBe(200);
  expect((await answers('POST', '/api/orgs/{org}/deployments/pause', '/api/orgs/acme/deployments/pause')).body.paused).toBe(true);
  expect((await answers('POST', '/api/orgs/{org}/deployments/resume', '/api/orgs/acme/deployments/resume')).body.paused).toBe(false);
  expect((await answers('GET', '/api/orgs/{org}/deployments/metadata', '/api/orgs/acme/deployments/metadata')).status).toBe(200);
  expect((await answers('POST', `${D}/{id}/cancel`, `${s}/deployments/${created.body.id}/cancel`)).status).toBe(200);

  expect((await answers('GET', `${D}/schedules`, `${s}/deployments/schedules`)).body.schedules).toEqual([]);
  expect((await answers('GET', `${S}/drift/status`, `${s}/drift/status`)).status).toBe(200);
  expect((await answers('GET', '/api/orgs/{org}/review-stacks', '/api/orgs/acme/review-stacks')).status).toBe(200);
  expect((await answers('POST', `${D}/settings/encrypt`, `${s}/deployments/settings/encrypt`, { body: 'hunter2' })).status).toBe(200);
  expect((await answers('DELETE', `${D}/settings`, `${s}/deployments/settings`)).status).toBe(200);
});

test('the interactive documentation and its assets are served from the package', async () => {
  const page = await app.request('/api/docs');
  expect(page.status).toBe(200);
  const html = await page.text();
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  expect(assets.length).toBeGreaterThanOrEqual(3);
  for (const a of assets) {
    expect(a).not.toMatch(/^(https?:)?\/\//);
    const res = await app.request(new URL(a, 'http://stackwright.test/api/docs').pathname);
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBeGreaterThan(10);
  }
  expect((await app.request('/api/docs/package.json')).status).toBe(404);
});
