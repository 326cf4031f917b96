import { Hono, type Context } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { StackRef, stackKey } from '../../shared/names';
import { runnableIssues } from '../../shared/settings';
import { foreignCiphertexts, sealSecrets } from '../../shared/secrets';
import { moveUrlCredentials, repoUrlIssues } from '../../shared/repo-url';
import { CreateScheduleRequest, DriftScheduleRequest, TtlScheduleRequest, type ScheduleKind } from '../../shared/schedules';
import { effectiveSettings, requestOverrides } from '../../deployments/request-settings';
import { createSchedule, deleteSchedule, setSchedulePaused, updateSchedule, type ScheduleDeps } from '../../deployments/schedules';
import { ScheduleStore, type ScheduleRecord, type ScheduleSpec, type ScheduledRequest } from '../../store/schedules';
import type { AuditEvent } from '../../store/audit';
import { apiError, badRequest, onInvalid } from '../errors';
import { requireJson } from '../json-body';
import { audit } from '../audit';
import { stackExists } from '../paging';
import { presentFiring, presentSchedule } from '../present-schedule';
import type { ApiDeps } from '../deps';

const params = zValidator('param', StackRef, onInvalid());
const withId = zValidator('param', StackRef.extend({ id: z.string() }), onInvalid());
const DEFAULT_TTL_WARNINGS = [24 * 3600_000, 3600_000];

/** Where each kind is updated. */
const UPDATE_PATH: Record<ScheduleKind, string> = { raw: 'schedules', drift: 'drift/schedules', ttl: 'ttl/schedules' };

/**
 * Pulumi's schedules API under .../deployments: raw schedules of any operation (cron or once),
 * drift schedules and TTL schedules; list, read, update, delete, pause, resume and history.
 */
export function scheduleRoutes(deps: ApiDeps) {
  const { store } = deps;
  const schedules = new ScheduleStore(store.db);
  const sdeps: ScheduleDeps = { store, temporal: deps.temporal, taskQueue: deps.taskQueue, ttlWarningLeadsMs: deps.ttlWarningLeadsMs ?? DEFAULT_TTL_WARNINGS };

  const present = async (s: ScheduleRecord) => presentSchedule(s, (await schedules.lastExecuted([s.id])).get(s.id));
  const changed = (c: Context, s: ScheduleRecord, event: Extract<AuditEvent, `schedule.${string}`>, what: string) =>
    audit(c, deps, { org: s.org, event, target: `${stackKey(s)}/deployments/schedules/${s.id}`, description: `${what} ${s.kind} schedule ${s.id}` });

  /** The schedule named in the path, or the answer saying why there is none usable. */
  const find = async (c: Context, ref: StackRef, id: string, kind?: ScheduleKind): Promise<ScheduleRecord | Response> => {
    const s = await schedules.get(ref, id);
    if (!s) return apiError(c, 404, `schedule ${id} not found`);
    if (kind && s.kind !== kind) return apiError(c, 400, `schedule ${id} is a ${s.kind} schedule: update it with POST .../deployments/${UPDATE_PATH[s.kind]}/${id}`);
    return s;
  };

  /** Pulumi Deployments refuses schedules on a stack without deployment settings. */
  const noSettings = async (c: Context, ref: StackRef) =>
    (await store.getSettings(ref)) ? undefined : apiError(c, 400, 'this stack has no deployment settings; store some before scheduling deployments');

  const save = async (c: Context, ref: StackRef, spec: ScheduleSpec, existing?: ScheduleRecord) => {
    try {
      const s = existing ? await updateSchedule(sdeps, existing, spec) : await createSchedule(sdeps, ref, spec);
      await changed(c, s, existing ? 'schedule.update' : 'schedule.create', existing ? 'Updated' : 'Created');
      return c.json(await present(s));
    } catch (err) {
      deps.log.error({ err }, 'could not save the schedule in Temporal');
      return apiError(c, 503, 'could not reach Temporal to run the schedule; nothing was changed');
    }
  };

  /** A raw schedule's request, checked as POST .../deployments checks one, secrets sealed. */
  const rawSpec = async (c: Context, ref: StackRef, body: CreateScheduleRequest): Promise<ScheduleSpec | Response> => {
    const { operation, inheritSettings, ...request } = body.request;
    const overrides = requestOverrides(request);
    const foreign = foreignCiphertexts(overrides, deps.box.decrypt);
    if (foreign.length) return badRequest(c, foreign, ['request']);
    const urlIssues = repoUrlIssues(overrides.sourceContext?.git?.repoURL ?? undefined, deps.allowLocalRepos ?? false);
    if (urlIssues.length) return badRequest(c, urlIssues, ['request']);
    const sealed = sealSecrets(moveUrlCredentials(overrides), deps.box.encrypt);
    const stored = inheritSettings ? (await store.getSettings(ref))?.settings : undefined;
    const issues = runnableIssues(effectiveSettings(stored, sealed));
    if (issues.length) return badRequest(c, issues, ['request']);
    return { kind: 'raw', scheduleCron: body.scheduleCron ?? null, scheduleOnce: body.scheduleOnce ?? null, request: { operation, inheritSettings, ...sealed } as ScheduledRequest };
  };

  const driftSpec = (b: z.infer<typeof DriftScheduleRequest>): ScheduleSpec => ({
    kind: 'drift',
    scheduleCron: b.scheduleCron,
    scheduleOnce: null,
    request: { inheritSettings: true, operation: 'detect-drift', operationContext: { options: { remediateIfDriftDetected: b.autoRemediate } } },
  });

  const ttlSpec = (b: z.infer<typeof TtlScheduleRequest>): ScheduleSpec => ({
    kind: 'ttl',
    scheduleCron: null,
    scheduleOnce: b.timestamp,
    request: { inheritSettings: true, operation: 'destroy', operationContext: { options: { deleteAfterDestroy: b.deleteAfterDestroy } } },
  });

  return new Hono()
    .get('/schedules', params, async (c) => {
      const ref = c.req.valid('param');
      const list = await schedules.list(ref);
      if (list.length === 0 && !(await stackExists(store, ref))) return apiError(c, 404, 'stack not found');
      const last = await schedules.lastExecuted(list.map((s) => s.id));
      const items = list.map((s) => presentSchedule(s, last.get(s.id)));
      // Pulumi's CLI reads `schedules`; its REST documentation shows `scheduledDeployments`.
      return c.json({ schedules: items, scheduledDeployments: items });
    })
    .post('/schedules', params, requireJson, zValidator('json', CreateScheduleRequest, onInvalid()), async (c) => {
      const ref = c.req.valid('param');
      const refused = await noSettings(c, ref);
      if (refused) return refused;
      const spec = await rawSpec(c, ref, c.req.valid('json'));
      return spec instanceof Response ? spec : save(c, ref, spec);
    })
    .get('/schedules/:id', withId, async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const s = await find(c, ref, id);
      return s instanceof Response ? s : c.json(await present(s));
    })
    .post('/schedules/:id', withId, requireJson, zValidator('json', CreateScheduleRequest, onInvalid()), async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const s = await find(c, ref, id, 'raw');
      if (s instanceof Response) return s;
      const spec = await rawSpec(c, ref, c.req.valid('json'));
      return spec instanceof Response ? spec : save(c, ref, spec, s);
    })
    .delete('/schedules/:id', withId, async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const s = await find(c, ref, id);
      if (s instanceof Response) return s;
      await deleteSchedule(sdeps, s);
      await changed(c, s, 'schedule.delete', 'Deleted');
      return c.body(null, 200);
    })
    .post('/schedules/:id/pause', withId, async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const s = await find(c, ref, id);
      if (s instanceof Response) return s;
      await setSchedulePaused(sdeps, s, true);
      await changed(c, s, 'schedule.pause', 'Paused');
      return c.body(null, 200);
    })
    .post('/schedules/:id/resume', withId, async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const s = await find(c, ref, id);
      if (s instanceof Response) return s;
      await setSchedulePaused(sdeps, s, false);
      await changed(c, s, 'schedule.resume', 'Resumed');
      return c.body(null, 200);
    })
    .get('/schedules/:id/history', withId, async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const s = await find(c, ref, id);
      if (s instanceof Response) return s;
      const events = (await schedules.history(s.id)).map(presentFiring);
      // The OpenAPI schema names the list `scheduleHistoryEvents`; the REST documentation `scheduledDeploymentsHistory`.
      return c.json({ scheduleHistoryEvents: events, scheduledDeploymentsHistory: events });
    })
    .post('/drift/schedules', params, requireJson, zValidator('json', DriftScheduleRequest, onInvalid()), async (c) => {
      const ref = c.req.valid('param');
      return (await noSettings(c, ref)) ?? save(c, ref, driftSpec(c.req.valid('json')));
    })
    .post('/drift/schedules/:id', withId, requireJson, zValidator('json', DriftScheduleRequest, onInvalid()), async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const s = await find(c, ref, id, 'drift');
      return s instanceof Response ? s : save(c, ref, driftSpec(c.req.valid('json')), s);
    })
    .post('/ttl/schedules', params, requireJson, zValidator('json', TtlScheduleRequest, onInvalid()), async (c) => {
      const ref = c.req.valid('param');
      const refused = await noSettings(c, ref);
      if (refused) return refused;
      const other = (await schedules.list(ref)).find((s) => s.kind === 'ttl');
      if (other) return apiError(c, 409, `this stack already has a TTL schedule (${other.id}); update it with POST .../deployments/ttl/schedules/${other.id}`);
      return save(c, ref, ttlSpec(c.req.valid('json')));
    })
    .post('/ttl/schedules/:id', withId, requireJson, zValidator('json', TtlScheduleRequest, onInvalid()), async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const s = await find(c, ref, id, 'ttl');
      return s instanceof Response ? s : save(c, ref, ttlSpec(c.req.valid('json')), s);
    });
}
