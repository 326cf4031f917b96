import { Hono, type Context } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { OrgName, StackRef } from '../../shared/names';
import { CreateHook, PatchHook, hookUrlIssue, type HookFormat } from '../../shared/hooks';
import { HookStore, type DeliveryRecord, type HookRecord, type HookScope } from '../../store/hooks';
import { newHookName, pingHook, redeliver } from '../../deployments/hook-admin';
import type { HookDeps } from '../../deployments/hook-events';
import { apiError, badRequest, onInvalid, type FieldIssue } from '../errors';
import { requireJson } from '../json-body';
import { audit } from '../audit';
import type { ApiDeps } from '../deps';

const HookName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'not a hook name');

/** Pulumi's webhook answer: the secret only as hasSecret (and its ciphertext). */
export const presentHook = (h: HookRecord) => ({
  organizationName: h.org,
  ...(h.project ? { projectName: h.project, stackName: h.stack } : {}),
  name: h.name,
  displayName: h.displayName,
  payloadUrl: h.payloadUrl,
  active: h.active,
  format: h.format,
  filters: h.filters,
  groups: h.groups,
  hasSecret: h.secret !== undefined,
  secretCiphertext: h.secret ?? '',
});

const presentDelivery = (d: DeliveryRecord) => ({
  id: d.id,
  kind: d.kind,
  event: d.event,
  payload: d.payload,
  timestamp: d.timestamp,
  duration: d.duration,
  attempt: d.attempt,
  requestUrl: d.requestUrl,
  requestHeaders: d.requestHeaders,
  responseCode: d.responseCode,
  responseHeaders: d.responseHeaders,
  responseBody: d.responseBody,
});

/** Stack hooks (/api/stacks/{org}/{project}/{stack}/hooks) or organization hooks (/api/orgs/{org}/hooks). */
export function hookRoutes(deps: ApiDeps, level: 'stack' | 'org') {
  const hooks = new HookStore(deps.store.db);
  const Scope = level === 'stack' ? StackRef : z.object({ org: OrgName });
  const scopeOf = (p: { org: string; project?: string; stack?: string }): HookScope => (level === 'stack' ? { org: p.org, project: p.project, stack: p.stack } : { org: p.org });
  const params = zValidator('param', Scope, onInvalid());
  const named = zValidator('param', Scope.extend({ name: HookName }), onInvalid());
  const withEvent = zValidator('param', Scope.extend({ name: HookName, event: z.string().min(1) }), onInvalid());
  const hookDeps = (): HookDeps & { box: ApiDeps['box'] } => ({ ...deps, hooks: deps.hooks ?? { retry: { initialIntervalMs: 60_000, maximumAttempts: 7 }, allowPrivate: false }, box: deps.box });

  /** Body fields that must name the path's scope, and formats the scope refuses. */
  const scopeIssues = (scope: HookScope, b: { organizationName?: string | null; projectName?: string | null; stackName?: string | null }, format: HookFormat): FieldIssue[] => {
    const issues: FieldIssue[] = [];
    if (b.organizationName && b.organizationName !== scope.org) issues.push({ path: ['organizationName'], message: `must be "${scope.org}", the organization of the path` });
    if (level === 'org' && (b.projectName || b.stackName)) issues.push({ path: [b.projectName ? 'projectName' : 'stackName'], message: 'an organization hook has no project or stack' });
    if (level === 'stack' && b.projectName && b.projectName !== scope.project) issues.push({ path: ['projectName'], message: `must be "${scope.project}", the project of the path` });
    if (level === 'stack' && b.stackName && b.stackName !== scope.stack) issues.push({ path: ['stackName'], message: `must be "${scope.stack}", the stack of the path` });
    if (level === 'org' && format === 'pulumi_deployments') issues.push({ path: ['format'], message: "'pulumi_deployments' format can only be used on stack webhooks" });
    return issues;
  };
  const find = async (c: Context, scope: HookScope, name: string) => {
    const h = await hooks.getHook(scope, name);
    return h ?? apiError(c, 404, `no hook named "${name}"`);
  };
  const target = (h: HookRecord) => `${h.org}${h.project ? `/${h.project}/${h.stack}` : ''}/hooks/${h.name}`;

  return new Hono()
    .post('/', params, requireJson, zValidator('json', CreateHook, onInvalid()), async (c) => {
      const scope = scopeOf(c.req.valid('param'));
      const b = c.req.valid('json');
      const format = b.format ?? 'raw';
      const issues = scopeIssues(scope, b, format);
      if (issues.length) return badRequest(c, issues);
      const hook: HookRecord = {
        ...scope,
        name: b.name ?? newHookName(),
        displayName: b.displayName,
        payloadUrl: b.payloadUrl,
        ...(b.secret ? { secret: deps.box.encrypt(b.secret) } : {}),
        active: b.active,
        format,
        filters: b.filters ?? [],
        groups: b.groups ?? [],
      };
      if (!(await hooks.createHook(hook))) return apiError(c, 409, `Webhook with name ${hook.name} already exists.`);
      await audit(c, deps, { org: scope.org, event: 'hook.create', target: target(hook), description: `Created hook "${hook.displayName}"` });
      return c.json(presentHook(hook), 201);
    })
    .get('/', params, async (c) => c.json((await hooks.listHooks(scopeOf(c.req.valid('param')))).map(presentHook)))
    .get('/:name', named, async (c) => {
      const p = c.req.valid('param');
      const h = await find(c, scopeOf(p), p.name);
      return h instanceof Response ? h : c.json(presentHook(h));
    })
    .patch('/:name', named, requireJson, zValidator('json', PatchHook, onInvalid()), async (c) => {
      const p = c.req.valid('param');
      const scope = scopeOf(p);
      const h = await find(c, scope, p.name);
      if (h instanceof Response) return h;
      const b = c.req.valid('json');
      if (b.name && b.name !== h.name) return badRequest(c, [{ path: ['name'], message: 'a hook cannot be renamed' }]);
      // An explicit null means "not set": no secret, no filters, no groups, the default format.
      const next: HookRecord = {
        ...h,
        ...(b.displayName !== undefined && { displayName: b.displayName }),
        ...(b.payloadUrl !== undefined && { payloadUrl: b.payloadUrl }),
        ...(b.active !== undefined && { active: b.active }),
        ...(b.format !== undefined && { format: b.format ?? 'raw' }),
        ...(b.filters !== undefined && { filters: b.filters ?? [] }),
        ...(b.groups !== undefined && { groups: b.groups ?? [] }),
      };
      if (b.secret === null) delete next.secret;
      else if (b.secret !== undefined) next.secret = deps.box.encrypt(b.secret);
      const issues = scopeIssues(scope, b, next.format as HookFormat);
      const urlProblem = hookUrlIssue(next.format as HookFormat, next.payloadUrl);
      if (urlProblem) issues.push({ path: ['payloadUrl'], message: urlProblem });
      if (issues.length) return badRequest(c, issues);
      await hooks.updateHook(next);
      await audit(c, deps, { org: scope.org, event: 'hook.update', target: target(next), description: `Changed hook "${next.displayName}"` });
      return c.json(presentHook(next));
    })
    .delete('/:name', named, async (c) => {
      const p = c.req.valid('param');
      const scope = scopeOf(p);
      if (!(await hooks.deleteHook(scope, p.name))) return apiError(c, 404, `no hook named "${p.name}"`);
      await audit(c, deps, { org: scope.org, event: 'hook.delete', target: `${scope.org}/hooks/${p.name}`, description: `Deleted hook ${p.name}` });
      return c.body(null, 204);
    })
    .post('/:name/ping', named, async (c) => {
      const p = c.req.valid('param');
      const h = await find(c, scopeOf(p), p.name);
      if (h instanceof Response) return h;
      if (h.format === 'pulumi_deployments') return apiError(c, 400, 'a pulumi_deployments hook queues deployments; it is not pinged');
      return c.json(presentDelivery(await pingHook(hookDeps(), h)));
    })
    .get('/:name/deliveries', named, async (c) => {
      const p = c.req.valid('param');
      const scope = scopeOf(p);
      const h = await find(c, scope, p.name);
      if (h instanceof Response) return h;
      return c.json((await hooks.listDeliveries(scope, h.name)).map(presentDelivery));
    })
    .post('/:name/deliveries/:event/redeliver', withEvent, async (c) => {
      const p = c.req.valid('param');
      const scope = scopeOf(p);
      const h = await find(c, scope, p.name);
      if (h instanceof Response) return h;
      const d = await hooks.getDelivery(p.event);
      const same = d && d.hook === h.name && d.scope.org === scope.org && d.scope.project === scope.project && d.scope.stack === scope.stack;
      if (!d || !same) return apiError(c, 404, `hook "${h.name}" has no delivery "${p.event}"`);
      return c.json(presentDelivery(await redeliver(hookDeps(), h, d)));
    });
}
