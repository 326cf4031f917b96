import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { OrgName, StackRef, stackKey } from '../../shared/names';
import { TERMINAL } from '../../shared/deployment';
import { cancelDeployment, wakeQueue } from '../../deployments/queue-control';
import { apiError, onInvalid } from '../errors';
import { audit, deploymentTarget } from '../audit';
import type { ApiDeps } from '../deps';
import { ScheduleStore } from '../../store/schedules';

const stackParams = zValidator('param', StackRef, onInvalid());
const orgParams = zValidator('param', z.object({ org: OrgName }), onInvalid());
const withId = zValidator('param', StackRef.extend({ id: z.string() }), onInvalid());

const wake = (deps: ApiDeps, ref: StackRef) => wakeQueue(deps.temporal, ref);

/** POST .../deployments/pause|resume, GET .../deployments/metadata, POST .../deployments/{id}/cancel */
export function stackQueueRoutes(deps: ApiDeps) {
  const { store } = deps;
  const metadata = async (ref: StackRef) => {
    const { stackPaused, organizationPaused } = await store.pauseState(ref);
    const hasSchedules = (await new ScheduleStore(store.db).count(ref)) > 0;
    return { paused: stackPaused || organizationPaused, stackPaused, organizationPaused, hasSchedules };
  };

  return new Hono()
    .post('/pause', stackParams, async (c) => {
      const ref = c.req.valid('param');
      // As in Pulumi Deployments, only stacks with deployment settings can be paused.
      if (!(await store.getSettings(ref))) return apiError(c, 404, 'this stack has no deployment settings');
      await store.pause(ref.org, ref);
      await audit(c, deps, { org: ref.org, event: 'stack.pause', target: stackKey(ref), description: "Paused the stack's deployment queue" });
      return c.json(await metadata(ref));
    })
    .post('/resume', stackParams, async (c) => {
      const ref = c.req.valid('param');
      await store.resume(ref.org, ref);
      await wake(deps, ref);
      await audit(c, deps, { org: ref.org, event: 'stack.resume', target: stackKey(ref), description: "Resumed the stack's deployment queue" });
      return c.json(await metadata(ref));
    })
    .get('/metadata', stackParams, async (c) => c.json(await metadata(c.req.valid('param'))))
    .post('/:id/cancel', withId, async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const d = await store.getDeployment(ref, id);
      if (!d) return apiError(c, 404, 'deployment not found');
      if (TERMINAL.includes(d.status)) return apiError(c, 409, `the deployment already ended (${d.status})`);
      await cancelDeployment(deps, ref, id);
      await audit(c, deps, { org: ref.org, event: 'deployment.cancel', target: deploymentTarget(ref, id), description: `Cancelled deployment ${d.version}` });
      return c.json({ id, version: d.version, cancelRequested: true });
    });
}

/** POST /api/orgs/{org}/deployments/pause|resume, GET /api/orgs/{org}/deployments/metadata */
export function orgQueueRoutes(deps: ApiDeps) {
  const { store } = deps;
  const metadata = async (org: string) => {
    const [pause, counts] = await Promise.all([store.orgPauseState(org), store.countByStatus(org)]);
    const n = (s: string) => counts[s] ?? 0;
    return {
      ...pause,
      // 0: no organization-wide limit (each stack runs one deployment at a time).
      concurrency: 0,
      deploymentCounts: {
        notStarted: n('not-started'),
        accepted: n('accepted'),
        running: n('running'),
        failed: n('failed'),
        succeeded: n('succeeded'),
        skipped: n('skipped'),
        total: Object.values(counts).reduce((a, b) => a + b, 0),
      },
    };
  };

  return new Hono()
    .post('/pause', orgParams, async (c) => {
      const { org } = c.req.valid('param');
      await store.pause(org);
      await audit(c, deps, { org, event: 'organization.pause', target: org, description: "Paused the organization's deployment queues" });
      return c.json(await metadata(org));
    })
    .post('/resume', orgParams, async (c) => {
      const { org } = c.req.valid('param');
      await store.resume(org);
      // Only queues with waiting deployments can be paused on it.
      await Promise.all((await store.stacksWithQueued(org)).map((ref) => wake(deps, ref).catch(() => false)));
      await audit(c, deps, { org, event: 'organization.resume', target: org, description: "Resumed the organization's deployment queues" });
      return c.json(await metadata(org));
    })
    .get('/metadata', orgParams, async (c) => c.json(await metadata(c.req.valid('param').org)));
}
