import { Hono, type Context } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { StackRef } from '../../shared/names';
import { decide, DecisionRefused } from '../../deployments/decide';
import { apiError, badRequest, onInvalid } from '../errors';
import { audit, deploymentTarget } from '../audit';
import type { ApiDeps } from '../deps';

const WithId = StackRef.extend({ id: z.string() });
const withId = zValidator('param', WithId, onInvalid());
export const DecisionBody = z.object({ comment: z.string().max(2000, 'at most 2000 characters').nullish() }).strict();

/**
 * POST .../deployments/{id}/approve and .../reject (requireApproval, a Stackwright extension), with an
 * optional JSON body {"comment": "..."}. Any token with the deployer role may call them; the
 * deployment's approvers list, its requester (no self-approval) and its state decide whether it counts.
 */
export function approvalRoutes(deps: ApiDeps) {
  const handle = async (c: Context, decision: 'approve' | 'reject') => {
    const { id, ...ref } = WithId.parse(c.req.param());
    const raw = await c.req.text();
    let json: unknown = {};
    if (raw.trim()) {
      try {
        json = JSON.parse(raw);
      } catch {
        return badRequest(c, [{ path: [], message: 'the request body is not valid JSON' }]);
      }
    }
    const body = DecisionBody.safeParse(json);
    if (!body.success) return badRequest(c, body.error.issues);
    const who = c.get('identity');
    const comment = body.data.comment ?? undefined;
    try {
      const state = await decide(deps, ref, id, decision, { name: who.name, role: who.role, source: 'api', ...(comment ? { comment } : {}) });
      const description = `${decision === 'approve' ? 'Approved' : 'Rejected'} deployment ${id}`;
      await audit(c, deps, { org: ref.org, event: `deployment.${decision}`, target: deploymentTarget(ref, id), description });
      return c.json({ id, ...state });
    } catch (err) {
      if (err instanceof DecisionRefused) return apiError(c, err.status, err.message);
      throw err;
    }
  };
  return new Hono().post('/:id/approve', withId, (c) => handle(c, 'approve')).post('/:id/reject', withId, (c) => handle(c, 'reject'));
}
