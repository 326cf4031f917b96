import { Hono } from 'hono';
import { visibleOrganizations } from '../auth';
import type { ApiDeps } from '../deps';

/** GET /api/user: the identity of the request's token, in the shape of Pulumi Cloud's user. */
export function currentUserRoutes(deps: ApiDeps) {
  return new Hono().get('/', async (c) => {
    const who = c.get('identity');
    const orgs = await visibleOrganizations(who, deps.store);
    return c.json({
      name: who.name,
      githubLogin: who.name,
      email: '',
      avatarUrl: '',
      organizations: orgs.map((o) => ({ name: o, githubLogin: o, avatarUrl: '' })),
      tokenInfo: { name: who.name, role: who.role, organization: who.organization },
    });
  });
}
