import { Hono } from 'hono';
import { visibleOrganizations } from '../auth';
import type { ApiDeps } from '../deps';

const summary = (org: string) => ({ name: org, githubLogin: org, avatarUrl: '' });

/**
 * What the `pulumi` CLI asks before anything else: `GET /api/user` (login: the identity behind the
 * token and its organizations), `GET /api/user/organizations/default` and `GET /api/capabilities`.
 */
export function userRoutes(deps: ApiDeps) {
  return new Hono()
    .get('/api/user', async (c) => {
      const who = c.get('identity');
      return c.json({
        id: who.id,
        name: who.name,
        githubLogin: who.name,
        email: '',
        avatarUrl: '',
        hasMFA: false,
        identities: [],
        isManagedByMultiOrg: false,
        isOrgManaged: false,
        organizations: (await visibleOrganizations(who, deps.store)).map((org) => ({ ...summary(org), role: who.role === 'admin' ? 'admin' : 'member' })),
        // Pulumi's TokenInfo, plus the token's Stackwright role.
        tokenInfo: { name: who.name, organization: who.organization ?? '', team: '', role: who.role },
      });
    })
    .get('/api/user/organizations/default', async (c) => {
      const [first] = await visibleOrganizations(c.get('identity'), deps.store);
      // The CLI then asks for stacks by their full name; an empty login means "no default".
      return c.json({ GitHubLogin: first ?? '', Messages: [] });
    })
    .get('/api/capabilities', (c) => c.json({ capabilities: [] }));
}
