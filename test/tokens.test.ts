import { randomBytes } from 'node:crypto';
import type { Store } from '../src/store/store';
import { startApiApp, type ApiApp } from './helpers/api-app';
import { SecretBox } from '../src/secret-box';
import { OidcIssuer } from '../src/state/oidc-issuer';
import { signGenericVcs } from '../src/vcs/signatures';
import type { Role } from '../src/shared/identity';
import type { StackRef } from '../src/shared/names';

// Tokens, roles, organization scopes and the audit log, through the HTTP API in-process (Hono's
// app.request) with a real SQLite store and a fake Temporal client.

const BOOTSTRAP = randomBytes(24).toString('base64url');
const GENERIC_SECRET = 'generic-vcs-secret-0123456789';

let api: ApiApp;
let store: Store;
let app: ApiApp['app'];

beforeAll(async () => {
  api = await startApiApp({
    name: 'tokens',
    token: BOOTSTRAP,
    deps: (store) => ({
      webhooks: { genericVcsSecret: GENERIC_SECRET, maxBytes: 1024 * 1024 },
      oidc: new OidcIssuer(store, new SecretBox(randomBytes(32)), { publicUrl: 'http://stackwright.test', tokenSeconds: 900, rotationSeconds: 86_400 }),
    }),
  });
  ({ store, app } = api);
});

afterAll(() => api?.close());

interface Res {
  status: number;
  body: any;
}

/** Every request goes through here: none may answer 500. */
async function call(method: string, path: string, o: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token !== null) headers.Authorization = `token ${o.token ?? BOOTSTRAP}`;
  let body: string | undefined;
  if (o.body !== undefined) {
    body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await app.request(path, { method, headers, body });
  const text = await res.text();
  expect(res.status).toBeLessThan(500);
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function createToken(body: object, token = BOOTSTRAP): Promise<{ id: string; token: string; name: string }> {
  const res = await call('POST', '/api/tokens', { body, token });
  expect(res.status).toBe(201);
  return res.body;
}

const stackPath = (r: StackRef) => `/api/stacks/${r.org}/${r.project}/${r.stack}`;
const settings = { sourceContext: { git: { repoURL: 'https://git.example.com/acme/website.git', branch: 'refs/heads/main' } } };
const newDeployment = (r: StackRef) =>
  store.createDeployment(r, { operation: 'update', settings, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: ['Get source', 'Pulumi operation'] });
const auditCount = async () => Number((await store.db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
const lastAudit = () => store.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();

// ---------------------------------------------------------------------------------------------
// Every route against every role and scope

type Scope = 'all' | 'acme' | 'other';
const ROLES: Role[] = ['admin', 'deployer', 'viewer'];
const SCOPES: Scope[] = ['all', 'acme', 'other'];
/** The identities of the table: the bootstrap token, and one token per role and scope. */
const IDENTITIES: [string, Role, Scope][] = [['bootstrap-admin', 'admin', 'all'], ...ROLES.flatMap((role) => SCOPES.map((scope): [string, Role, Scope] => [`${role}-${scope}`, role, scope]))];
const tokenValues = new Map<string, string>([['bootstrap-admin', BOOTSTRAP]]);

const RANK: Record<Role, number> = { viewer: 0, deployer: 1, admin: 2 };

interface Row {
  method: string;
  /** The path, given what prepare made. */
  path: (made: Made) => string;
  body?: (made: Made) => unknown;
  needs: Role;
  ok: number;
  /**
   * How the route names organization acme: in its path (any token of another organization gets
   * 404), in what it creates or deletes (404 once the role allows it), or not at all.
   */
  org: 'path' | 'target' | 'none';
  /** Whether an allowed request is a change, recorded in the audit log. */
  change: boolean;
  prepare?: () => Promise<Made>;
}
type Made = { id?: string; version?: number };

const t = { org: 'acme', project: 'website', stack: 'table' };
const stack = stackPath(t);
const withSettings = async (): Promise<Made> => {
  await store.saveSettings(t, settings);
  return {};
};
const withDeployment = async (): Promise<Made> => {
  await withSettings();
  const d = await newDeployment(t);
  return { id: d.id, version: d.version };
};
let seq = 0;

const ROUTES: Row[] = [
  { method: 'GET', path: () => `${stack}/deployments/settings`, needs: 'viewer', ok: 200, org: 'path', change: false, prepare: withSettings },
  { method: 'POST', path: () => `${stack}/deployments/settings`, body: () => settings, needs: 'deployer', ok: 200, org: 'path', change: true },
  { method: 'PUT', path: () => `${stack}/deployments/settings`, body: () => settings, needs: 'deployer', ok: 200, org: 'path', change: true },
  { method: 'DELETE', path: () => `${stack}/deployments/settings`, needs: 'deployer', ok: 200, org: 'path', change: true, prepare: withSettings },
  { method: 'POST', path: () => `${stack}/deployments/settings/encrypt`, body: () => JSON.stringify('secret'), needs: 'deployer', ok: 200, org: 'path', change: false },
  { method: 'GET', path: () => stack, needs: 'viewer', ok: 200, org: 'path', change: false, prepare: withSettings },
  { method: 'GET', path: () => `${stack}/export`, needs: 'viewer', ok: 200, org: 'path', change: false, prepare: withSettings },
  { method: 'GET', path: () => `${stack}/updates`, needs: 'viewer', ok: 200, org: 'path', change: false, prepare: withSettings },
  { method: 'POST', path: () => '/api/stacks/acme/website', body: () => ({ stackName: `new-${++seq}` }), needs: 'deployer', ok: 200, org: 'path', change: true },
  { method: 'POST', path: () => `${stack}/deployments`, body: () => ({ operation: 'update' }), needs: 'deployer', ok: 202, org: 'path', change: true, prepare: withSettings },
  { method: 'GET', path: () => `${stack}/deployments`, needs: 'viewer', ok: 200, org: 'path', change: false, prepare: withSettings },
  { method: 'GET', path: (m) => `${stack}/deployments/${m.id}`, needs: 'viewer', ok: 200, org: 'path', change: false, prepare: withDeployment },
  { method: 'GET', path: (m) => `${stack}/deployments/version/${m.version}`, needs: 'viewer', ok: 200, org: 'path', change: false, prepare: withDeployment },
  { method: 'GET', path: (m) => `${stack}/deployments/${m.id}/logs`, needs: 'viewer', ok: 200, org: 'path', change: false, prepare: withDeployment },
  { method: 'POST', path: (m) => `${stack}/deployments/${m.id}/cancel`, needs: 'deployer', ok: 200, org: 'path', change: true, prepare: withDeployment },
  { method: 'POST', path: () => `${stack}/deployments/pause`, needs: 'deployer', ok: 200, org: 'path', change: true, prepare: withSettings },
  { method: 'POST', path: () => `${stack}/deployments/resume`, needs: 'deployer', ok: 200, org: 'path', change: true },
  { method: 'GET', path: () => `${stack}/deployments/metadata`, needs: 'viewer', ok: 200, org: 'path', change: false },
  { method: 'GET', path: () => `${stack}/drift/runs`, needs: 'viewer', ok: 200, org: 'path', change: false, prepare: withSettings },
  { method: 'GET', path: () => `${stack}/drift/status`, needs: 'viewer', ok: 200, org: 'path', change: false, prepare: withSettings },
  { method: 'GET', path: () => '/api/orgs/acme/deployments', needs: 'viewer', ok: 200, org: 'path', change: false },
  { method: 'POST', path: () => '/api/orgs/acme/deployments/pause', needs: 'deployer', ok: 200, org: 'path', change: true },
  { method: 'POST', path: () => '/api/orgs/acme/deployments/resume', needs: 'deployer', ok: 200, org: 'path', change: true },
  { method: 'GET', path: () => '/api/orgs/acme/deployments/metadata', needs: 'viewer', ok: 200, org: 'path', change: false },
  { method: 'GET', path: () => '/api/orgs/acme/auditlogs', needs: 'admin', ok: 200, org: 'path', change: false },
  { method: 'POST', path: () => '/api/tokens', body: () => ({ name: `made-${++seq}`, role: 'viewer', organization: 'acme' }), needs: 'admin', ok: 201, org: 'target', change: true },
  { method: 'GET', path: () => '/api/tokens', needs: 'admin', ok: 200, org: 'none', change: false },
  {
    method: 'DELETE',
    path: (m) => `/api/tokens/${m.id}`,
    needs: 'admin',
    ok: 204,
    org: 'target',
    change: true,
    prepare: async () => ({ id: (await createToken({ name: `doomed-${++seq}`, role: 'viewer', organization: 'acme' })).id }),
  },
  { method: 'GET', path: () => '/api/user', needs: 'viewer', ok: 200, org: 'none', change: false },
  { method: 'GET', path: () => '/api/user/organizations/default', needs: 'viewer', ok: 200, org: 'none', change: false },
  { method: 'GET', path: () => '/api/capabilities', needs: 'viewer', ok: 200, org: 'none', change: false },
];

describe('every route against every role and scope', () => {
  beforeAll(async () => {
    for (const [name, role, scope] of IDENTITIES.slice(1)) {
      const made = await createToken({ name, role, organization: scope === 'all' ? null : scope });
      tokenValues.set(name, made.token);
    }
  });

  describe.each(ROUTES.map((r) => [`${r.method} ${r.path({ id: '{id}', version: 1 })}`, r] as const))('%s', (_name, route) => {
    test.each(IDENTITIES)('%s', async (name, role, scope) => {
      const made = (await route.prepare?.()) ?? {};
      const before = await auditCount();
      const res = await call(route.method, route.path(made), { token: tokenValues.get(name), body: route.body?.(made) });

      const roleAllows = RANK[role] >= RANK[route.needs];
      const otherOrg = scope === 'other';
      if (otherOrg && route.org === 'path') {
        expect(res.status).toBe(404);
      } else if (!roleAllows) {
        expect(res.status).toBe(403);
        expect(res.body.message).toContain(`needs the ${route.needs} role`);
        expect(res.body.message).toContain(`has the ${role} role`);
      } else if (otherOrg && route.org === 'target') {
        expect(res.status).toBe(404);
      } else {
        expect(res.status).toBe(route.ok);
      }
      // A refused request changes nothing; an allowed change is recorded under the token's name.
      const recorded = res.status === route.ok && route.change;
      expect(await auditCount()).toBe(before + (recorded ? 1 : 0));
      if (recorded) expect((await lastAudit()).actor).toBe(name);
    });
  });

  test('/metrics and the OIDC discovery routes take no API token: public (metrics: unless STACKWRIGHT_METRICS_TOKEN is set)', async () => {
    for (const path of ['/metrics', '/.well-known/openid-configuration', '/oidc/.well-known/openid-configuration', '/oidc/.well-known/jwks']) {
      for (const token of [null, tokenValues.get('viewer-other')!, 'not-a-token']) {
        const res = await app.request(path, { headers: token ? { Authorization: `token ${token}` } : {} });
        expect([path, res.status]).toEqual([path, 200]);
      }
    }
  });

  test('the API description and its documentation are public: no token, or a token of any role, reads them', async () => {
    for (const path of ['/api/openapi.json', '/api/docs']) {
      for (const token of [null, tokenValues.get('viewer-other')!, BOOTSTRAP]) {
        const headers: Record<string, string> = token === null ? {} : { Authorization: `token ${token}` };
        expect((await app.request(path, { headers })).status).toBe(200);
      }
    }
  });

  test('webhook routes take no API token: a token of any role changes nothing about their answer', async () => {
    const body = JSON.stringify({ event: 'push', commit: 'a'.repeat(40), branch: 'main', repoUrl: 'https://git.example.com/none.git' });
    for (const token of [null, tokenValues.get('viewer-other')!]) {
      const res = await call('POST', '/api/webhooks/generic-vcs', { token, body, headers: { 'X-Generic-VCS-Signature': signGenericVcs(GENERIC_SECRET, body) } });
      expect(res.status).toBe(202);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Creating, listing and revoking tokens

describe('tokens', () => {
  test('the value is shown once, stored only as a hash, and identifies the token', async () => {
    const made = await createToken({ name: 'ci', role: 'deployer', organization: 'acme', expiresAt: null });
    expect(made).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{16}$/),
      name: 'ci',
      role: 'deployer',
      organization: 'acme',
      created: expect.any(String),
      createdBy: 'bootstrap-admin',
      expiresAt: null,
      token: expect.stringMatching(/^sw-[0-9a-f]{16}-[0-9a-f]{48}$/),
    });
    const listed = (await call('GET', '/api/tokens')).body.tokens;
    const { token, ...shown } = made;
    expect(listed).toContainEqual(shown);
    expect(JSON.stringify(listed)).not.toContain(token);

    const row = await store.db.selectFrom('api_tokens').selectAll().where('id', '=', made.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(token);
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);

    const user = await call('GET', '/api/user', { token });
    expect(user.body).toMatchObject({ name: 'ci', githubLogin: 'ci', organizations: [{ name: 'acme', githubLogin: 'acme' }], tokenInfo: { name: 'ci', role: 'deployer', organization: 'acme' } });
  });

  test('GET /api/user: an unscoped token sees every known organization', async () => {
    await store.saveSettings({ org: 'zeta', project: 'p', stack: 's' }, settings);
    const res = await call('GET', '/api/user');
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('bootstrap-admin');
    expect(res.body.tokenInfo).toEqual({ name: 'bootstrap-admin', role: 'admin', organization: '', team: '' }); // Pulumi's TokenInfo: '' = every organization
    const orgs = res.body.organizations.map((o: { name: string }) => o.name);
    expect(orgs).toEqual(expect.arrayContaining(['acme', 'zeta']));
    expect(orgs).toEqual([...new Set(orgs)].sort());
  });

  test.each([
    ['name', { role: 'viewer' }],
    ['name', { name: '', role: 'viewer' }],
    ['name', { name: ' leading space', role: 'viewer' }],
    ['name', { name: 'trailing space ', role: 'viewer' }],
    ['name', { name: 'x'.repeat(65), role: 'viewer' }],
    ['role', { name: 'r1' }],
    ['role', { name: 'r2', role: 'owner' }],
    ['organization', { name: 'o1', role: 'viewer', organization: 'bad/org' }],
    ['expiresAt', { name: 'e1', role: 'viewer', expiresAt: 'tomorrow' }],
    ['expiresAt', { name: 'e2', role: 'viewer', expiresAt: '2001-01-01T00:00:00Z' }],
    ['scopes', { name: 'u1', role: 'viewer', scopes: ['all'] }],
  ])('a bad %s is refused naming it: %j', async (field, body) => {
    const before = (await call('GET', '/api/tokens')).body.tokens.length;
    const res = await call('POST', '/api/tokens', { body });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect((await call('GET', '/api/tokens')).body.tokens.length).toBe(before);
  });

  test('a body that is not JSON is refused', async () => {
    expect((await call('POST', '/api/tokens', { body: 'name=x', headers: { 'Content-Type': 'text/plain' } })).status).toBe(415);
    expect((await call('POST', '/api/tokens', { body: '{' })).status).toBe(400);
  });

  test('names are unique, and the bootstrap token has its own', async () => {
    await createToken({ name: 'twice', role: 'viewer' });
    expect(await createToken({ name: 'Jane Doe laptop', role: 'viewer' })).toMatchObject({ name: 'Jane Doe laptop' });
    expect((await call('POST', '/api/tokens', { body: { name: 'twice', role: 'admin' } })).status).toBe(409);
    expect((await call('POST', '/api/tokens', { body: { name: 'bootstrap-admin', role: 'admin' } })).status).toBe(409);
  });

  test('null organization and expiry mean every organization and never', async () => {
    const made = await createToken({ name: 'everywhere', role: 'viewer', organization: null, expiresAt: null });
    expect(made).toMatchObject({ organization: null, expiresAt: null });
    expect((await call('GET', '/api/orgs/anything/deployments', { token: made.token })).status).toBe(200);
  });

  test('a revoked token gets 401 at once; revoking twice is 404', async () => {
    const made = await createToken({ name: 'short-lived', role: 'admin' });
    expect((await call('GET', '/api/user', { token: made.token })).status).toBe(200);
    expect((await call('DELETE', `/api/tokens/${made.id}`)).status).toBe(204);
    const res = await call('GET', '/api/user', { token: made.token });
    expect(res.status).toBe(401);
    expect((await call('GET', '/api/orgs/acme/deployments', { token: made.token })).status).toBe(401);
    expect((await call('DELETE', `/api/tokens/${made.id}`)).status).toBe(404);
    expect((await call('DELETE', '/api/tokens/bootstrap')).status).toBe(404);
  });

  test('a token can revoke itself, and is refused right after', async () => {
    const made = await createToken({ name: 'self', role: 'admin' });
    expect((await call('DELETE', `/api/tokens/${made.id}`, { token: made.token })).status).toBe(204);
    expect((await call('GET', '/api/tokens', { token: made.token })).status).toBe(401);
  });

  test('an expired token gets 401 saying so', async () => {
    const made = await createToken({ name: 'expiring', role: 'viewer', expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect((await call('GET', '/api/user', { token: made.token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    const res = await call('GET', '/api/user', { token: made.token });
    expect(res.status).toBe(401);
    expect(res.body.message).toContain('expired');
  });

  test('a value that only looks like a token, or a token with one character changed, is refused', async () => {
    const made = await createToken({ name: 'tampered', role: 'admin' });
    const last = made.token.slice(-1) === '0' ? '1' : '0';
    for (const token of [made.token.slice(0, -1) + last, `sw-${made.id}-${'0'.repeat(48)}`, `${made.token}0`, 'sw-0000000000000000-' + '0'.repeat(48)]) {
      expect((await call('GET', '/api/user', { token })).status).toBe(401);
    }
    const bearer = await call('GET', '/api/user', { token: null, headers: { Authorization: `Bearer ${made.token}` } });
    expect(bearer.status).toBe(401);
  });

  test('an admin scoped to one organization makes, lists and revokes tokens of that organization only', async () => {
    const scoped = await createToken({ name: 'acme-admin', role: 'admin', organization: 'acme' });
    const foreign = await createToken({ name: 'other-viewer', role: 'viewer', organization: 'other' });
    const wide = await createToken({ name: 'wide-viewer', role: 'viewer' });

    const own = await createToken({ name: 'acme-made', role: 'deployer' }, scoped.token);
    expect(own).toMatchObject({ organization: 'acme', createdBy: 'acme-admin' });
    expect(await createToken({ name: 'acme-made-null', role: 'viewer', organization: null }, scoped.token)).toMatchObject({ organization: 'acme' });
    expect((await call('POST', '/api/tokens', { token: scoped.token, body: { name: 'elsewhere', role: 'viewer', organization: 'other' } })).status).toBe(404);

    const listed = (await call('GET', '/api/tokens', { token: scoped.token })).body.tokens;
    expect(listed.every((x: { organization: string }) => x.organization === 'acme')).toBe(true);
    expect(listed.map((x: { name: string }) => x.name)).toContain('acme-made');

    expect((await call('DELETE', `/api/tokens/${foreign.id}`, { token: scoped.token })).status).toBe(404);
    expect((await call('DELETE', `/api/tokens/${wide.id}`, { token: scoped.token })).status).toBe(404);
    expect((await call('GET', '/api/user', { token: wide.token })).status).toBe(200);
    expect((await call('DELETE', `/api/tokens/${own.id}`, { token: scoped.token })).status).toBe(204);
  });
});

// ---------------------------------------------------------------------------------------------
// The audit log

describe('audit log', () => {
  const r = { org: 'audited', project: 'website', stack: 'dev' };
  let admin: { id: string; token: string };
  let deployer: { id: string; token: string };

  beforeAll(async () => {
    admin = await createToken({ name: 'audit-admin', role: 'admin', organization: 'audited' });
    deployer = await createToken({ name: 'alice', role: 'deployer', organization: 'audited' });
  });

  const log = async (query = '') => {
    const res = await call('GET', `/api/orgs/audited/auditlogs${query}`, { token: admin.token });
    expect(res.status).toBe(200);
    return res.body;
  };

  test('every kind of change is recorded with the token that made it, newest first', async () => {
    const as = (method: string, path: string, body?: unknown) => call(method, path, { token: deployer.token, body });
    expect((await as('POST', `${stackPath(r)}/deployments/settings`, settings)).status).toBe(200);
    expect((await as('PUT', `${stackPath(r)}/deployments/settings`, settings)).status).toBe(200);
    const queued = await as('POST', `${stackPath(r)}/deployments`, { operation: 'preview' });
    expect(queued.status).toBe(202);
    expect((await as('POST', `${stackPath(r)}/deployments/${queued.body.id}/cancel`)).status).toBe(200);
    expect((await as('POST', `${stackPath(r)}/deployments/pause`)).status).toBe(200);
    expect((await as('POST', `${stackPath(r)}/deployments/resume`)).status).toBe(200);
    expect((await as('POST', '/api/orgs/audited/deployments/pause')).status).toBe(200);
    expect((await as('POST', '/api/orgs/audited/deployments/resume')).status).toBe(200);
    expect((await as('DELETE', `${stackPath(r)}/deployments/settings`)).status).toBe(200);
    const made = await createToken({ name: 'bob', role: 'viewer' }, admin.token);
    expect((await call('DELETE', `/api/tokens/${made.id}`, { token: admin.token })).status).toBe(204);

    // The deployment names who asked for it.
    expect((await call('GET', `${stackPath(r)}/deployments/${queued.body.id}`, { token: deployer.token })).body.requestedBy).toEqual({ name: 'alice', githubLogin: 'alice', avatarUrl: '' });

    const body = await log('?pageSize=100');
    const stackKey = 'audited/website/dev';
    const target = `${stackKey}/deployments/${queued.body.id}`;
    const events = body.auditLogEvents.map((e: any) => [e.event, e.target, e.user.name, e.tokenName, e.tokenID]);
    expect(events.slice(0, 11)).toEqual([
      ['token.revoke', `tokens/${made.id}`, 'audit-admin', 'audit-admin', admin.id],
      ['token.create', `tokens/${made.id}`, 'audit-admin', 'audit-admin', admin.id],
      ['settings.delete', stackKey, 'alice', 'alice', deployer.id],
      ['organization.resume', 'audited', 'alice', 'alice', deployer.id],
      ['organization.pause', 'audited', 'alice', 'alice', deployer.id],
      ['stack.resume', stackKey, 'alice', 'alice', deployer.id],
      ['stack.pause', stackKey, 'alice', 'alice', deployer.id],
      ['deployment.cancel', target, 'alice', 'alice', deployer.id],
      ['deployment.create', target, 'alice', 'alice', deployer.id],
      ['settings.replace', stackKey, 'alice', 'alice', deployer.id],
      ['settings.update', stackKey, 'alice', 'alice', deployer.id],
    ]);
    // Before them: the tokens of this organization, made by the bootstrap token, and (further
    // down) the changes of tokens for every organization made by the tests above.
    expect(events.slice(11, 13)).toEqual([
      ['token.create', `tokens/${deployer.id}`, 'bootstrap-admin', 'bootstrap-admin', 'bootstrap'],
      ['token.create', `tokens/${admin.id}`, 'bootstrap-admin', 'bootstrap-admin', 'bootstrap'],
    ]);
    expect(body.total).toBe(events.length);
    expect(body.auditLogEvents[0]).toEqual({
      timestamp: expect.any(Number),
      created: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/),
      event: 'token.revoke',
      description: 'Revoked API token "bob" (viewer, organization audited)',
      target: `tokens/${made.id}`,
      user: { name: 'audit-admin', githubLogin: 'audit-admin', avatarUrl: '' },
      tokenID: admin.id,
      tokenName: 'audit-admin',
    });
    expect(Math.abs(body.auditLogEvents[0].timestamp * 1000 - Date.now())).toBeLessThan(60_000);
    expect(body.auditLogEvents.find((e: any) => e.event === 'deployment.create').description).toBe(`Queued preview deployment ${queued.body.version}`);

    // Paged, newest first.
    const page2 = await log('?page=2&pageSize=3');
    expect(page2.itemsPerPage).toBe(3);
    expect(page2.auditLogEvents.map((e: any) => e.event)).toEqual(['organization.resume', 'organization.pause', 'stack.resume']);
  });

  test('an organization sees its own entries and those of tokens for every organization, not others', async () => {
    const wide = await createToken({ name: 'audit-wide', role: 'viewer' });
    await createToken({ name: 'audit-elsewhere', role: 'viewer', organization: 'elsewhere' });
    const events = (await log('?pageSize=100')).auditLogEvents;
    expect(events[0]).toMatchObject({ event: 'token.create', target: `tokens/${wide.id}`, description: 'Created API token "audit-wide" (viewer, every organization)' });
    expect(events.some((e: any) => e.description.includes('audit-elsewhere'))).toBe(false);
    expect(events.some((e: any) => e.target.startsWith('acme/'))).toBe(false);
  });

  test('a deployment a webhook queued is recorded with the webhook as its author', async () => {
    const repoUrl = 'https://git.example.com/audited/infra.git';
    await store.saveSettings({ ...r, stack: 'hooked' }, { sourceContext: { git: { repoURL: repoUrl, branch: 'refs/heads/main' } }, vcs: { provider: 'custom', deployCommits: true } });
    const body = JSON.stringify({ event: 'push', commit: 'b'.repeat(40), branch: 'main', repoUrl, sender: 'ci-bot' });
    const res = await call('POST', '/api/webhooks/generic-vcs', { token: null, body, headers: { 'X-Generic-VCS-Signature': signGenericVcs(GENERIC_SECRET, body) } });
    expect(res.status).toBe(202);
    expect(res.body.deployments).toHaveLength(1);
    const [entry] = (await log()).auditLogEvents;
    expect(entry).toMatchObject({
      event: 'deployment.create',
      target: `audited/website/hooked/deployments/${res.body.deployments[0].id}`,
      description: `Queued update deployment ${res.body.deployments[0].version} (requested by ci-bot)`,
      user: { name: 'custom webhook' },
    });
    expect(entry.tokenID).toBeUndefined();
  });

  test('bad paging is refused naming the field', async () => {
    for (const [q, field] of [
      ['?pageSize=101', 'query.pageSize'],
      ['?page=0', 'query.page'],
      ['?continuationToken=x', 'query.continuationToken'],
    ]) {
      const res = await call('GET', `/api/orgs/audited/auditlogs${q}`, { token: admin.token });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
  });
});

test('the codec endpoint takes the same tokens: admins decode, other roles and revoked tokens get 401', async () => {
  const body = JSON.stringify({ payloads: [] });
  const post = (token?: string) =>
    app.request('/codec/decode', { method: 'POST', headers: { 'Content-Type': 'application/json', ...(token && { Authorization: `token ${token}` }) }, body });
  const admin = await createToken({ name: 'codec-admin', role: 'admin' });
  const deployer = await createToken({ name: 'codec-deployer', role: 'deployer' });
  expect((await post(BOOTSTRAP)).status).toBe(200);
  expect((await post(admin.token)).status).toBe(200);
  expect((await post(deployer.token)).status).toBe(401);
  expect((await post()).status).toBe(401);
  expect((await app.request(`/api/tokens/${admin.id}`, { method: 'DELETE', headers: { Authorization: `token ${BOOTSTRAP}` } })).status).toBe(204);
  expect((await post(admin.token)).status).toBe(401);
});
