import { Hono, type Context } from 'hono';
import type { ApiDeps } from '../deps';
import { apiError } from '../errors';

/**
 * Stackwright as an OpenID Connect issuer (public: verifiers such as AWS STS fetch these). The issuer
 * is `<public URL>/oidc`, so its discovery document is at `/oidc/.well-known/openid-configuration`;
 * the root's `/.well-known/openid-configuration` answers the same.
 */
export function oidcRoutes(deps: ApiDeps) {
  const issuer = deps.oidc;
  // A new key may sign the next token: verifiers should not hold the key set for long.
  const cache = { 'Cache-Control': 'public, max-age=60' };
  const discovery = (c: Context) =>
    issuer ? c.json(issuer.discovery(), 200, cache) : apiError(c, 404, 'this server issues no OIDC tokens');
  return new Hono()
    .get('/.well-known/openid-configuration', discovery)
    .get('/oidc/.well-known/openid-configuration', discovery)
    .get('/oidc/.well-known/jwks', async (c) => (issuer ? c.json(await issuer.jwks(), 200, cache) : apiError(c, 404, 'this server issues no OIDC tokens')));
}
