import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { ProjectName, StackName, StackRef, stackKey } from '../../shared/names';
import { CreateDependent } from '../../shared/hooks';
import { findCycle } from '../../shared/chain';
import { HookStore } from '../../store/hooks';
import { cancelChain, chainState } from '../../deployments/chain-control';
import { apiError, badRequest, onInvalid } from '../errors';
import { requireJson } from '../json-body';
import { audit } from '../audit';
import type { ApiDeps } from '../deps';

const params = zValidator('param', StackRef, onInvalid());
const edge = zValidator('param', StackRef.extend({ dependentProject: ProjectName, dependentStack: StackName }), onInvalid());
const withId = zValidator('param', StackRef.extend({ id: z.string().min(1) }), onInvalid());

/** GET/POST .../dependents, DELETE .../dependents/{project}/{stack}: the stacks deployed after this one's updates. */
export function dependentRoutes(deps: ApiDeps) {
  const hooks = new HookStore(deps.store.db);
  const list = async (ref: StackRef) =>
    (await hooks.dependentEdges(ref.org))
      .filter((e) => e.from === `${ref.project}/${ref.stack}`)
      .map((e) => ({ projectName: e.to.split('/')[0], stackName: e.to.split('/')[1], when: e.when }));

  return new Hono()
    .get('/', params, async (c) => c.json({ dependents: await list(c.req.valid('param')) }))
    .post('/', params, requireJson, zValidator('json', CreateDependent, onInvalid()), async (c) => {
      const ref = c.req.valid('param');
      const b = c.req.valid('json');
      const from = `${ref.project}/${ref.stack}`;
      const to = `${b.projectName}/${b.stackName}`;
      const cycle = findCycle(await hooks.dependentEdges(ref.org), { from, to });
      if (cycle) return badRequest(c, [{ path: ['stackName'], message: `would make a cycle: ${cycle.join(' → ')}` }]);
      const when = b.when ?? 'succeeded';
      await hooks.putDependent(ref.org, ref, { project: b.projectName, stack: b.stackName }, when);
      await audit(c, deps, { org: ref.org, event: 'dependent.create', target: `${stackKey(ref)}/dependents/${to}`, description: `${to} is deployed after updates of ${from} (${when})` });
      return c.json({ projectName: b.projectName, stackName: b.stackName, when }, 201);
    })
    .delete('/:dependentProject/:dependentStack', edge, async (c) => {
      const p = c.req.valid('param');
      const to = { project: p.dependentProject, stack: p.dependentStack };
      if (!(await hooks.deleteDependent(p.org, p, to))) return apiError(c, 404, `${p.dependentProject}/${p.dependentStack} is not a dependent of this stack`);
      await audit(c, deps, { org: p.org, event: 'dependent.delete', target: `${stackKey(p)}/dependents/${to.project}/${to.stack}`, description: 'Removed a dependent' });
      return c.body(null, 204);
    });
}

/** GET .../deployments/{id}/chain and POST .../deployments/{id}/chain/cancel: the chain an update started. */
export function chainRoutes(deps: ApiDeps) {
  const ofDeployment = async (p: StackRef & { id: string }) => {
    const d = await deps.store.getDeploymentById(p.id);
    return d && d.org === p.org && d.project === p.project && d.stack === p.stack ? d : undefined;
  };
  return new Hono()
    .get('/:id/chain', withId, async (c) => {
      const p = c.req.valid('param');
      const state = (await ofDeployment(p)) && (await chainState(deps.temporal, p.org, p.id));
      return state ? c.json(state) : apiError(c, 404, 'this deployment started no chain');
    })
    .post('/:id/chain/cancel', withId, async (c) => {
      const p = c.req.valid('param');
      if (!(await ofDeployment(p)) || !(await cancelChain(deps.temporal, p.org, p.id))) return apiError(c, 404, 'this deployment started no chain');
      await audit(c, deps, { org: p.org, event: 'chain.cancel', target: `${stackKey(p)}/deployments/${p.id}/chain`, description: 'Cancelled the chain' });
      return c.body(null, 202);
    });
}
