import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { OrgName, stackKey } from '../../shared/names';
import { onInvalid } from '../errors';
import { presentDeployment } from '../present';
import { ListQuery } from '../list-query';
import type { ApiDeps } from '../deps';

/** GET /api/orgs/{org}/deployments: every stack's deployments, newest first unless `asc`. */
export function orgDeploymentRoutes(deps: ApiDeps) {
  const { store } = deps;
  return new Hono().get('/', zValidator('param', z.object({ org: OrgName }), onInvalid()), zValidator('query', ListQuery, onInvalid(['query'])), async (c) => {
    const { org } = c.req.valid('param');
    const q = c.req.valid('query');
    const page = await store.listDeployments({ org }, q);
    const latest = await store.latestVersions(page.deployments);
    return c.json({
      deployments: page.deployments.map((d) => presentDeployment(d, latest.get(stackKey(d)) ?? d.version)),
      itemsPerPage: q.pageSize,
      total: page.total,
    });
  });
}
