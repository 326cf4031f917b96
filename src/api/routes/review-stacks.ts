import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { OrgName } from '../../shared/names';
import type { ReviewStackRecord } from '../../store/review-stacks';
import type { DeploymentRecord } from '../../store/store';
import { onInvalid } from '../errors';
import { PageQuery } from '../paging';
import { pulumiTime } from '../present';
import type { ApiDeps } from '../deps';

const present = (r: ReviewStackRecord, last: DeploymentRecord | undefined) => ({
  organization: r.org,
  project: r.project,
  stack: r.stack,
  template: r.template,
  state: r.state,
  message: r.message ?? undefined,
  pullRequest: { provider: r.provider, repository: r.repository, number: r.pullRequest, headBranch: r.headBranch ?? undefined, commit: r.headCommit ?? undefined },
  lastDeployment: last ? { id: last.id, version: last.version, operation: last.operation, status: last.status, modified: pulumiTime(last.modified) } : null,
  created: pulumiTime(r.created),
  modified: pulumiTime(r.modified),
});

/** GET /api/orgs/{org}/review-stacks: the organization's review stacks, newest first (`page` from 1, `pageSize` ≤ 100). */
export function reviewStackRoutes(deps: ApiDeps) {
  return new Hono().get('/', zValidator('param', z.object({ org: OrgName }), onInvalid()), zValidator('query', PageQuery.strict(), onInvalid(['query'])), async (c) => {
    const q = c.req.valid('query');
    const { reviewStacks, total } = await deps.store.reviewStacks.list(c.req.valid('param').org, q);
    const last = await Promise.all(reviewStacks.map((r) => (r.lastDeploymentId ? deps.store.getDeploymentById(r.lastDeploymentId) : undefined)));
    return c.json({ reviewStacks: reviewStacks.map((r, i) => present(r, last[i])), itemsPerPage: q.pageSize, total });
  });
}
