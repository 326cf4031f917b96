import { Hono } from 'hono';
import { knownOrganizations } from '../../store/organizations';
import type { ApiDeps } from '../deps';

/** Who a token acts as, in the shape Pulumi's `GET /api/user` gives it. */
export interface ApiIdentity {
  id: string;
  name: string;
  /** null: every organization. */
  organization: string | null;
}

/** The bootstrap token's identity. */
export const ADMIN_IDENTITY: ApiIdentity = { id: 'admin', name: 'admin', organization: null };

const summary = (org: string) => ({ name: org, githubLogin: org, avatarUrl: '' });

/**
 * What the `pulumi` CLI asks before anything else: `GET /api/user` (login: the identity behind the
 * token and its organizations), `GET /api/user/organizations/default` and `GET /api/capabilities`.
 */
export function userRoutes(deps: ApiDeps) {
  const identity = (): ApiIdentity => ADMIN_IDENTITY;
  const organizations = async (who: ApiIdentity) => (who.organization ? [who.organization] : await knownOrganizations(deps.store.db));

  return new Hono()
    .get('/api/user', async (c) => {
      const who = identity();
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
        organizations: (await organizations(who)).map((org) => ({ ...summary(org), role: 'member' })),
        tokenInfo: { name: who.name, organization: who.organization ?? '', team: '' },
      });
    })
    .get('/api/user/organizations/default', async (c) => {
      const [first] = await organizations(identity());
      // The CLI then asks for stacks by their full name; an empty login means "no default".
      return c.json({ GitHubLogin: first ?? '', Messages: [] });
    })
    .get('/api/capabilities', (c) => c.json({ capabilities: [] }));
}
