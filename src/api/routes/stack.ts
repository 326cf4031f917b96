import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { StackRef } from '../../shared/names';
import { PulumiState, type UpdateRecord } from '../../state/pulumi-state';
import { apiError, onInvalid } from '../errors';
import { stackExists } from '../paging';
import type { ApiDeps } from '../deps';

const params = zValidator('param', StackRef, onInvalid());
const withVersion = zValidator('param', StackRef.extend({ version: z.coerce.number().int().min(1) }), onInvalid());
const withId = zValidator('param', StackRef.extend({ id: z.string() }), onInvalid());
const HistoryQuery = z.object({
  page: z.coerce.number().int().min(0).default(0),
  pageSize: z.coerce.number().int().min(0).default(10),
  'output-type': z.string().optional(),
});

/** Pulumi's flat UpdateInfo, as `pulumi stack history` reads it. */
const flat = (u: UpdateRecord) => ({
  kind: u.kind,
  startTime: u.startTime,
  endTime: u.endTime,
  message: u.message ?? '',
  environment: u.environment ?? {},
  config: u.config ?? {},
  result: u.result,
  version: u.version,
  resourceChanges: u.resourceChanges ?? {},
  ...(u.resourceCount !== undefined && { resourceCount: u.resourceCount }),
});

/** The nested form (`{info, updateID, version, latestVersion, requestedBy}`) of one update. */
const nested = (u: UpdateRecord, latestVersion: number) => ({
  info: flat(u),
  updateID: u.updateID,
  version: u.version,
  latestVersion,
  requestedBy: { name: 'stackwright', githubLogin: 'stackwright', avatarUrl: '' },
});

/**
 * The stack itself, as Pulumi's clients read it: `GET /api/stacks/{org}/{project}/{stack}` (the CLI
 * builds every later URL from its answer), its checkpoint (`/export`) and update history
 * (`/updates`), read from the Pulumi backend that deployments write to. Pulumi runs `pulumi stack
 * output` and `pulumi stack history` from these.
 */
export function stackRoutes(deps: ApiDeps) {
  const state = (org: string) => PulumiState.open(deps.stateBackendUrl(org));
  const history = async (ref: StackRef) => (await state(ref.org)?.history(ref)) ?? [];

  return new Hono()
    .get('/', params, async (c) => {
      const ref = c.req.valid('param');
      const checkpoint = await state(ref.org)?.checkpoint(ref);
      if (!checkpoint && !(await stackExists(deps.store, ref))) return apiError(c, 404, 'stack not found');
      const updates = await history(ref);
      const last = updates.at(-1);
      return c.json({
        id: `${ref.org}/${ref.project}/${ref.stack}`,
        orgName: ref.org,
        projectName: ref.project,
        stackName: ref.stack,
        activeUpdate: last?.updateID ?? '',
        tags: {},
        version: last?.version ?? 0,
      });
    })
    .get('/export', params, async (c) => {
      const ref = c.req.valid('param');
      const checkpoint = await state(ref.org)?.checkpoint(ref);
      if (!checkpoint) {
        if (!(await stackExists(deps.store, ref))) return apiError(c, 404, 'stack not found');
        return c.json({ version: 3, deployment: { manifest: { time: new Date(0).toISOString(), magic: '', version: '' } } });
      }
      return c.json({ version: checkpoint.version, deployment: checkpoint.checkpoint.latest ?? {} });
    })
    .get('/updates', params, zValidator('query', HistoryQuery, onInvalid(['query'])), async (c) => {
      const ref = c.req.valid('param');
      const { page, pageSize } = c.req.valid('query');
      const all = (await history(ref)).reverse(); // newest first, as Pulumi lists them
      if (!all.length && !(await stackExists(deps.store, ref))) return apiError(c, 404, 'stack not found');
      const shown = page === 0 ? all : all.slice((page - 1) * pageSize, page * pageSize);
      return c.json({ updates: shown.map(flat), itemsPerPage: page === 0 ? all.length : pageSize, total: all.length });
    })
    .get('/updates/latest', params, async (c) => {
      const ref = c.req.valid('param');
      const all = await history(ref);
      const last = all.at(-1);
      return last ? c.json(nested(last, last.version)) : apiError(c, 404, 'this stack has no updates');
    })
    .get('/updates/:version', withVersion, async (c) => {
      const { version, ...ref } = c.req.valid('param');
      const all = await history(ref);
      const found = all.find((u) => u.version === version);
      return found ? c.json(nested(found, all.length)) : apiError(c, 404, `this stack has no update ${version}`);
    })
    .get('/deployments/:id/updates', withId, async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const d = await deps.store.getDeployment(ref, id);
      if (!d) return apiError(c, 404, 'deployment not found');
      const all = await history(ref);
      return c.json(all.filter((u) => u.environment?.['ci.build.id'] === d.id).map((u) => nested(u, all.length)));
    });
}
