import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { StackRef, stackKey } from '../../shared/names';
import { clearCache } from '../../store/caches';
import { audit } from '../audit';
import { apiError, onInvalid } from '../errors';
import { stackExists } from '../paging';
import type { ApiDeps } from '../deps';

const params = zValidator('param', StackRef, onInvalid());

/**
 * DELETE /api/stacks/{org}/{project}/{stack}/deployments/cache: as in Pulumi Deployments, clears the
 * cache of the stack's project; its next deployments install their dependencies afresh.
 */
export function cacheRoutes(deps: ApiDeps) {
  return new Hono().delete('/', params, async (c) => {
    const ref = c.req.valid('param');
    if (!(await stackExists(deps.store, ref))) return apiError(c, 404, 'stack not found');
    await clearCache(deps.store.db, ref);
    await audit(c, deps, { org: ref.org, event: 'cache.clear', target: stackKey(ref), description: "Cleared the project's dependency cache" });
    return c.body(null, 200);
  });
}
