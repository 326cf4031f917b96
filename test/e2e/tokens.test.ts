import { startStackwright, type Stackwright } from '../helpers/stackwright';

// Tokens over real HTTP with a real Temporal: a deployer's deployment is queued under its name and
// recorded in the audit log, scopes and roles hold, and revocation takes effect on the next request.
const org = `t${Date.now().toString(36)}`;
const stackPath = `/api/stacks/${org}/website/dev`;

let sw: Stackwright;

beforeAll(async () => {
  // No worker: queued deployments wait, which is all this needs.
  sw = await startStackwright({}, { worker: false });
}, 600_000);
afterAll(async () => sw?.stop());

test('a scoped deployer deploys under its name, a viewer may not, another organization is unknown, revocation is immediate', async () => {
  const make = async (body: object) => {
    const res = await sw.api('/api/tokens', { method: 'POST', body });
    expect(res.status).toBe(201);
    return res.body as { id: string; token: string };
  };
  const deployer = await make({ name: `deployer-${org}`, role: 'deployer', organization: org });
  const viewer = await make({ name: `viewer-${org}`, role: 'viewer', organization: org });

  const settings = { sourceContext: { git: { repoUrl: 'https://git.example.com/acme/website.git', branch: 'main' } } };
  expect((await sw.api(`${stackPath}/deployments/settings`, { method: 'POST', body: settings, token: deployer.token })).status).toBe(200);
  const queued = await sw.api(`${stackPath}/deployments`, { method: 'POST', body: { operation: 'preview' }, token: deployer.token });
  expect(queued.status).toBe(202);
  const d = await sw.api(`${stackPath}/deployments/${queued.body.id}`, { token: viewer.token });
  expect(d.body.requestedBy.name).toBe(`deployer-${org}`);

  const refused = await sw.api(`${stackPath}/deployments`, { method: 'POST', body: { operation: 'preview' }, token: viewer.token });
  expect(refused.status).toBe(403);
  expect(refused.body.message).toContain('deployer role');
  expect((await sw.api('/api/stacks/elsewhere/website/dev/deployments', { token: deployer.token })).status).toBe(404);
  expect((await sw.api(`${stackPath}/deployments/${queued.body.id}/cancel`, { method: 'POST', token: deployer.token })).status).toBe(200);

  const log = (await sw.api(`/api/orgs/${org}/auditlogs`)).body.auditLogEvents.map((e: any) => [e.event, e.tokenName]);
  expect(log.slice(0, 3)).toEqual([
    ['deployment.cancel', `deployer-${org}`],
    ['deployment.create', `deployer-${org}`],
    ['settings.update', `deployer-${org}`],
  ]);

  expect((await sw.api(`/api/tokens/${deployer.id}`, { method: 'DELETE' })).status).toBe(204);
  expect((await sw.api(`${stackPath}/deployments`, { token: deployer.token })).status).toBe(401);
  expect((await sw.api('/api/user', { token: viewer.token })).body.organizations).toEqual([{ name: org, githubLogin: org, avatarUrl: '', role: 'member' }]);
});
