import { z } from 'zod';

/** What a token may do: `viewer` reads, `deployer` also changes settings and deployments, `admin` also manages tokens. */
export const Role = z.enum(['admin', 'deployer', 'viewer'], { error: 'expected admin, deployer or viewer' });
export type Role = z.infer<typeof Role>;

/** Who a request acts as: the API token it carries. */
export interface Identity {
  id: string;
  name: string;
  role: Role;
  /** The one organization the token may see; null: every organization. */
  organization: string | null;
}

const RANK: Record<Role, number> = { viewer: 0, deployer: 1, admin: 2 };

/** Whether a role includes another: each role may do all that the roles below it may. */
export const roleIncludes = (has: Role, needs: Role): boolean => RANK[has] >= RANK[needs];

/** The token configured by STACKWRIGHT_TOKEN (or kept in the data dir): an admin of every organization. */
export const BOOTSTRAP_IDENTITY: Identity = { id: 'bootstrap', name: 'bootstrap-admin', role: 'admin', organization: null };
