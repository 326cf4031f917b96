import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { BOOTSTRAP_IDENTITY } from '../../shared/identity';
import { CreateTokenRequest } from '../../shared/tokens';
import { deleteToken, findToken, insertToken, listTokens, type TokenRecord } from '../../store/tokens';
import { apiError, onInvalid } from '../errors';
import { requireJson } from '../json-body';
import { audit } from '../audit';
import { maySee } from '../auth';
import { hashToken, newTokenValue } from '../token-values';
import type { ApiDeps } from '../deps';

const present = (t: TokenRecord) => ({
  id: t.id,
  name: t.name,
  role: t.role,
  organization: t.organization,
  created: t.created,
  createdBy: t.createdBy,
  expiresAt: t.expiresAt,
});

const scopeText = (org: string | null) => (org === null ? 'every organization' : `organization ${org}`);

/**
 * POST /api/tokens (the value is in this answer only), GET /api/tokens, DELETE /api/tokens/{id}.
 * Admins only (src/api/auth.ts). An admin scoped to one organization sees and makes tokens of
 * that organization only, so it cannot make itself a wider token.
 */
export function tokenRoutes(deps: ApiDeps) {
  const { db } = deps.store;

  return new Hono()
    .post('/', requireJson, zValidator('json', CreateTokenRequest, onInvalid()), async (c) => {
      const who = c.get('identity');
      const req = c.req.valid('json');
      const organization = req.organization ?? who.organization;
      // A scoped admin's tokens default to its organization; another one is answered as unknown.
      if (organization !== null && !maySee(who, organization)) return apiError(c, 404, `organization ${organization} not found`);

      const { id, value } = newTokenValue();
      const expiresAt = req.expiresAt ? new Date(req.expiresAt).toISOString() : null;
      const token =
        req.name === BOOTSTRAP_IDENTITY.name
          ? undefined
          : await insertToken(db, { id, name: req.name, role: req.role, organization, hash: hashToken(value), createdBy: who.name, expiresAt });
      if (!token) return apiError(c, 409, `an API token named "${req.name}" exists already`);
      await audit(c, deps, {
        org: organization,
        event: 'token.create',
        target: `tokens/${id}`,
        description: `Created API token "${token.name}" (${token.role}, ${scopeText(organization)}${expiresAt ? `, expires ${expiresAt}` : ''})`,
      });
      return c.json({ ...present(token), token: value }, 201);
    })
    .get('/', async (c) => {
      const tokens = await listTokens(db, c.get('identity').organization ?? undefined);
      return c.json({ tokens: tokens.map(present) });
    })
    .delete('/:id', zValidator('param', z.object({ id: z.string() }), onInvalid()), async (c) => {
      const who = c.get('identity');
      const token = await findToken(db, c.req.valid('param').id);
      // A token of another organization is answered as if it did not exist.
      if (!token || (who.organization !== null && token.organization !== who.organization)) return apiError(c, 404, 'API token not found');
      if (!(await deleteToken(db, token.id))) return apiError(c, 404, 'API token not found');
      await audit(c, deps, {
        org: token.organization,
        event: 'token.revoke',
        target: `tokens/${token.id}`,
        description: `Revoked API token "${token.name}" (${token.role}, ${scopeText(token.organization)})`,
      });
      return c.body(null, 204);
    });
}
