import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { OrgName } from '../../shared/names';
import { listAudit, type AuditRecord } from '../../store/audit';
import { onInvalid } from '../errors';
import { PageQuery } from '../paging';
import { pulumiTime } from '../present';
import type { ApiDeps } from '../deps';

// Pulumi's audit log event: timestamp in Unix seconds, the actor as `user`, the token by id and name.
const present = (e: AuditRecord) => ({
  timestamp: Math.floor(Date.parse(e.created) / 1000),
  created: pulumiTime(e.created),
  event: e.event,
  description: e.description,
  target: e.target,
  user: { name: e.actor, githubLogin: e.actor, avatarUrl: '' },
  tokenID: e.tokenId ?? undefined,
  tokenName: e.tokenId ? e.actor : undefined,
});

/** GET /api/orgs/{org}/auditlogs: `page`, `pageSize` (≤ 100), newest first. */
export function auditLogRoutes(deps: ApiDeps) {
  return new Hono().get('/', zValidator('param', z.object({ org: OrgName }), onInvalid()), zValidator('query', PageQuery.strict(), onInvalid(['query'])), async (c) => {
    const q = c.req.valid('query');
    const { entries, total } = await listAudit(deps.store.db, c.req.valid('param').org, q);
    return c.json({ auditLogEvents: entries.map(present), itemsPerPage: q.pageSize, total });
  });
}
