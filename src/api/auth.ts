import type { MiddlewareHandler } from 'hono';
import { BOOTSTRAP_IDENTITY, roleIncludes, type Identity, type Role } from '../shared/identity';
import { findToken } from '../store/tokens';
import { knownOrganizations } from '../store/organizations';
import type { Store } from '../store/store';
import { apiError } from './errors';
import { hashToken, tokenIdOf, valueMatches } from './token-values';

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by `authenticate` on every route under /api but the webhooks. */
    identity: Identity;
  }
}

type AuthDeps = { store: Store; token: string };

// Pulumi's CLI sends `Authorization: token <value>`.
const HEADER = /^token +(\S+) *$/i;

/** The identity a token value stands for, or why there is none. */
export async function identify(deps: AuthDeps, value: string, bootstrapHash = hashToken(deps.token)): Promise<Identity | string> {
  if (valueMatches(value, bootstrapHash)) return BOOTSTRAP_IDENTITY;
  const id = tokenIdOf(value);
  // Read on every request, so a revoked token is refused at once.
  const token = id && (await findToken(deps.store.db, id));
  if (!token || !valueMatches(value, token.hash)) return 'missing or invalid API token (send "Authorization: token <token>")';
  if (token.expiresAt && Date.parse(token.expiresAt) <= Date.now()) return `API token "${token.name}" expired at ${token.expiresAt}`;
  const { id: tokenId, name, role, organization } = token;
  return { id: tokenId, name, role, organization };
}

/** Whether a token value is a valid admin token (the codec endpoint's rule). */
export async function isAdminToken(deps: AuthDeps, value: string): Promise<boolean> {
  const who = await identify(deps, value);
  return typeof who !== 'string' && who.role === 'admin';
}

/** Sets `identity` from the request's token; 401 without a valid one. */
export function authenticate(deps: AuthDeps): MiddlewareHandler {
  const bootstrapHash = hashToken(deps.token);
  return async (c, next) => {
    const value = HEADER.exec(c.req.header('Authorization') ?? '')?.[1];
    const found = value === undefined ? 'missing or invalid API token (send "Authorization: token <token>")' : await identify(deps, value, bootstrapHash);
    if (typeof found === 'string') {
      c.header('WWW-Authenticate', 'token realm="stackwright"');
      return apiError(c, 401, found);
    }
    c.set('identity', found);
    await next();
  };
}

// Token management and the audit log are for admins; otherwise reads are for every role and
// changes for deployers and admins.
const ADMIN_ONLY = [/^\/api\/tokens(\/|$)/, /^\/api\/orgs\/[^/]+\/auditlogs\/?$/];

/** The least role a request needs. */
export function requiredRole(method: string, path: string): Role {
  if (ADMIN_ONLY.some((p) => p.test(path))) return 'admin';
  return method === 'GET' || method === 'HEAD' ? 'viewer' : 'deployer';
}

/** Whether an identity may see an organization at all. */
export const maySee = (identity: Identity, org: string): boolean => identity.organization === null || identity.organization === org;

// The organization a path is about: /api/stacks/{org}/... and /api/orgs/{org}/...
const ORG_PATH = /^\/api\/(?:stacks|orgs)\/([^/]+)/;

function orgOfPath(path: string): string | undefined {
  const raw = ORG_PATH.exec(path)?.[1];
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // the route's own validation answers a malformed name
  }
}

/**
 * After `authenticate`. Another organization than the token's is answered as if it did not exist
 * (404), before the role is looked at; then a role below the one required gets 403 naming it.
 */
export const authorize: MiddlewareHandler = async (c, next) => {
  const identity = c.get('identity');
  const org = orgOfPath(c.req.path);
  if (org !== undefined && !maySee(identity, org)) return apiError(c, 404, 'not found');
  const needs = requiredRole(c.req.method, c.req.path);
  if (!roleIncludes(identity.role, needs)) {
    return apiError(c, 403, `this needs the ${needs} role; API token "${identity.name}" has the ${identity.role} role`);
  }
  await next();
};

/** The organizations an identity may see: its own, or every one Stackwright knows. */
export async function visibleOrganizations(identity: Identity, store: Store): Promise<string[]> {
  return identity.organization !== null ? [identity.organization] : knownOrganizations(store.db);
}

