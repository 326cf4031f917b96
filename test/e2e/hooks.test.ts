import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { newOutDir, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { startHookReceiver, type HookReceiver } from '../helpers/hook-receiver';
import { refusedTarget } from '../../src/deployments/hook-send';

// Outgoing webhooks and chains through the real API, Temporal, git and pulumi, with a local receiver.
const org = `hooks${Date.now().toString(36)}`;
const stackPath = (stack: string, project = 'website') => `/api/stacks/${org}/${project}/${stack}`;
// The program's dependencies are linked from Stackwright's own node_modules instead of installed.
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;

let sw: Stackwright;
let repo: TestRepo;
let rx: HookReceiver;

beforeAll(async () => {
  [sw, rx] = await Promise.all([
    startStackwright({ STACKWRIGHT_WEBHOOK_ALLOW_PRIVATE: 'true', STACKWRIGHT_HOOK_RETRY_SECONDS: '0.2', STACKWRIGHT_KILL_GRACE_SECONDS: '5' }),
    startHookReceiver(),
  ]);
  repo = createProgramRepo('website');
});
afterAll(async () => {
  await sw?.stop();
  await rx?.close();
});

/** A stack of the test program writing hello.txt into its own directory. */
async function newStack(stack: string, extra: { env?: Record<string, string>; preRun?: string[] } = {}): Promise<string> {
  const outDir = newOutDir();
  const res = await sw.api(`${stackPath(stack)}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoUrl: repo.url, branch: 'main' } },
      operationContext: {
        environmentVariables: { OUT_DIR: outDir, ...extra.env },
        preRunCommands: [linkDependencies, ...(extra.preRun ?? [])],
        options: { skipInstallDependencies: true },
      },
    },
  });
  expect(res.status).toBe(200);
  return outDir;
}

async function deploy(stack: string, operation = 'update'): Promise<any> {
  const res = await sw.api(`${stackPath(stack)}/deployments`, { method: 'POST', body: { operation } });
  expect(res.status).toBe(202);
  return waitForDeployment(sw, stackPath(stack), res.body.id);
}

const deploymentsOf = async (stack: string) => (await sw.api(`${stackPath(stack)}/deployments?asc=true`)).body.deployments as any[];

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const chainOf = (stack: string, id: string) => sw.api(`${stackPath(stack)}/deployments/${id}/chain`);
const settledChain = (stack: string, id: string) =>
  eventually(`the chain of ${stack}`, async () => {
    const r = await chainOf(stack, id);
    return r.status === 200 && r.body.status !== 'running' ? r.body : undefined;
  });

async function addHook(stack: string | null, body: object): Promise<any> {
  const path = stack ? `${stackPath(stack)}/hooks` : `/api/orgs/${org}/hooks`;
  const res = await sw.api(path, { method: 'POST', body: { active: true, ...body } });
  expect(res.status).toBe(201);
  return res.body;
}

const kindsAt = (path: string) => rx.on(path).map((r) => r.headers['pulumi-webhook-kind'] + ':' + JSON.parse(r.body).status);

describe('hooks', () => {
  test('bad inputs are refused naming the field; unknown hooks are 404', async () => {
    const hooks = `${stackPath('bad')}/hooks`;
    const bad = async (body: object, field: string, path = hooks) => {
      const r = await sw.api(path, { method: 'POST', body: { displayName: 'x', active: true, ...body } });
      expect([r.status, r.body.errors?.map((e: any) => e.field)]).toEqual([400, expect.arrayContaining([field])]);
      return r.body.message as string;
    };
    expect(await bad({ payloadUrl: 'ftp://example.com/x' }, 'payloadUrl')).toContain('http or https');
    expect(await bad({ payloadUrl: 'not a url' }, 'payloadUrl')).toContain('http or https');
    expect(await bad({ payloadUrl: 'https://example.com', filters: ['update_succeded'] }, 'filters.0')).toContain('unknown event');
    expect(await bad({ payloadUrl: 'https://example.com', groups: ['everything'] }, 'groups.0')).toContain('unknown group');
    expect(await bad({ payloadUrl: 'https://example.com', organizationName: 'other' }, 'organizationName')).toContain(org);
    expect(await bad({ payloadUrl: 'website', format: 'pulumi_deployments' }, 'payloadUrl')).toContain('<project>/<stack>');
    expect(await bad({ payloadUrl: 'website/dev', format: 'pulumi_deployments' }, 'format', `/api/orgs/${org}/hooks`)).toContain('stack webhooks');
    expect(await bad({ payloadUrl: 'https://example.com', colour: 'red' }, 'colour')).toContain('unknown field');
    expect((await sw.api(`${hooks}/nope`)).status).toBe(404);
    expect((await sw.api(`${hooks}/nope`, { method: 'PATCH', body: { active: false } })).status).toBe(404);
    expect((await sw.api(`${hooks}/nope`, { method: 'DELETE' })).status).toBe(404);
    expect((await sw.api(`${hooks}/nope/ping`, { method: 'POST' })).status).toBe(404);
    expect((await sw.api(`${hooks}/nope/deliveries/x/redeliver`, { method: 'POST' })).status).toBe(404);
    // Private targets are refused unless allowed (this Stackwright allows them for the local receiver).
    expect(await refusedTarget('http://127.0.0.1:9/x', false)).toContain('loopback');
    expect(await refusedTarget('http://169.254.169.254/latest', false)).toContain('metadata');
    expect(await refusedTarget('http://[::1]/x', false)).toContain('loopback');
    expect(await refusedTarget('http://localhost/x', false)).toBeDefined();
    expect(await refusedTarget('http://127.0.0.1:9/x', true)).toBeUndefined();
  });

  test('CRUD with a sealed secret, ping signed in both schemes, PATCH with null unsetting', async () => {
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const created = await addHook(null, { displayName: 'org hook', payloadUrl: `${rx.url}/org`, secret, filters: ['preview_succeeded'] });
    expect(created).toEqual({
      organizationName: org,
      name: expect.stringMatching(/^[0-9a-f]{8}$/),
      displayName: 'org hook',
      payloadUrl: `${rx.url}/org`,
      active: true,
      format: 'raw',
      filters: ['preview_succeeded'],
      groups: [],
      hasSecret: true,
      secretCiphertext: expect.stringMatching(/^v1:/),
    });
    expect(JSON.stringify(created)).not.toContain(secret);
    const path = `/api/orgs/${org}/hooks/${created.name}`;
    expect((await sw.api(`/api/orgs/${org}/hooks`)).body).toEqual([created]);
    expect((await sw.api(`/api/orgs/${org}/hooks`, { method: 'POST', body: { name: created.name, displayName: 'again', payloadUrl: rx.url, active: true } })).status).toBe(409);

    const ping = await sw.api(`${path}/ping`, { method: 'POST' });
    expect(ping.status).toBe(200);
    expect(ping.body).toMatchObject({ kind: 'ping', responseCode: 200, responseBody: 'OK', requestUrl: `${rx.url}/org` });
    expect(ping.body.requestHeaders).toContain(`Pulumi-Webhook-Kind: ping\r\n`);
    const [got] = rx.on('/org');
    expect(got.body).toBe(ping.body.payload);
    expect(JSON.parse(got.body).message).toContain('ping');
    // Pulumi's scheme: hex HMAC-SHA256 of the body with the secret as given.
    expect(got.headers['pulumi-webhook-signature']).toBe(createHmac('sha256', secret).update(got.body).digest('hex'));
    expect(got.headers['pulumi-webhook-id']).toBe(ping.body.id);
    // Standard Webhooks, with the reference library.
    expect(new Webhook(secret).verify(got.body, got.headers)).toEqual(JSON.parse(got.body));
    expect(() => new Webhook(secret).verify(got.body.replace('ping', 'pong'), got.headers)).toThrow();

    // A secret that is not whsec_: the same HMAC, and Standard Webhooks with its raw bytes as the key.
    const patched = await sw.api(path, { method: 'PATCH', body: { secret: 'plain-secret', displayName: 'renamed' } });
    expect(patched.body).toMatchObject({ displayName: 'renamed', hasSecret: true });
    await sw.api(`${path}/ping`, { method: 'POST' });
    const second = rx.on('/org')[1];
    expect(second.headers['pulumi-webhook-signature']).toBe(createHmac('sha256', 'plain-secret').update(second.body).digest('hex'));
    expect(new Webhook('plain-secret', { format: 'raw' }).verify(second.body, second.headers)).toBeTruthy();

    const unset = await sw.api(path, { method: 'PATCH', body: { secret: null, filters: null } });
    expect(unset.body).toMatchObject({ hasSecret: false, secretCiphertext: '', filters: [] });
    await sw.api(`${path}/ping`, { method: 'POST' });
    expect(rx.on('/org')[2].headers['pulumi-webhook-signature']).toBeUndefined();
    expect((await sw.api(`${path}/deliveries`)).body.map((d: any) => d.kind)).toEqual(['ping', 'ping', 'ping']);
    expect((await sw.api(path, { method: 'DELETE' })).status).toBe(204);
    expect((await sw.api(path)).status).toBe(404);
  });
});

describe('chains', () => {
  const dependents = (stack: string) => `${stackPath(stack)}/dependents`;
  const declare = (from: string, to: string) => sw.api(dependents(from), { method: 'POST', body: { projectName: 'website', stackName: to } });
  // The program shows which upstream it followed: GREETING is set from PULUMI_CI_UPSTREAM_STACK.
  const greet = 'echo "GREETING=after-${PULUMI_CI_UPSTREAM_STACK:-none}" >> "$PULUMI_ENV"';
  const outs: Record<string, string> = {};
  const SECRET = 'events-secret';
  let firstA: any;

  const hookNames: Record<string, string> = {};
  let targetOut: string;

  beforeAll(async () => {
    for (const s of ['a', 'b', 'c', 'd']) outs[s] = await newStack(`chain-${s}`, { preRun: [greet] });
    for (const [from, to] of [['a', 'b'], ['a', 'c'], ['b', 'd']]) expect((await declare(`chain-${from}`, `chain-${to}`)).status).toBe(201);
    // A's update also feeds hooks of every kind, and a pulumi_deployments hook (the Pulumi way of chaining).
    targetOut = await newStack('target');
    const add = async (body: object) => (hookNames[(body as { displayName: string }).displayName] = (await addHook('chain-a', body)).name);
    await add({ displayName: 'all', payloadUrl: `${rx.url}/all`, secret: SECRET });
    await add({ displayName: 'filtered', payloadUrl: `${rx.url}/filtered`, filters: ['deployment_started', 'update_succeeded'] });
    await add({ displayName: 'stacks group', payloadUrl: `${rx.url}/group`, groups: ['stacks'] });
    await add({ displayName: 'inactive', payloadUrl: `${rx.url}/inactive`, active: false });
    await add({ displayName: 'flaky', payloadUrl: `${rx.url}/flaky`, filters: ['deployment_succeeded'] });
    await add({ displayName: 'slack', payloadUrl: `${rx.url}/slack`, format: 'slack', filters: ['update_succeeded'] });
    await add({ displayName: 'teams', payloadUrl: `${rx.url}/teams`, format: 'ms_teams', filters: ['update_succeeded'] });
    await add({ displayName: 'deploy target', payloadUrl: 'website/target', format: 'pulumi_deployments', filters: ['update_succeeded'] });
    rx.failFirst('/flaky', 2);
  });

  test('dependents: listed, cycles refused naming the cycle, bad input, unknown edges 404', async () => {
    expect((await sw.api(dependents('chain-a'))).body).toEqual({
      dependents: [
        { projectName: 'website', stackName: 'chain-b', when: 'succeeded' },
        { projectName: 'website', stackName: 'chain-c', when: 'succeeded' },
      ],
    });
    const cycle = await declare('chain-d', 'chain-a');
    expect(cycle.status).toBe(400);
    expect(cycle.body.errors[0]).toEqual({ field: 'stackName', message: 'would make a cycle: website/chain-d → website/chain-a → website/chain-b → website/chain-d' });
    expect((await declare('chain-a', 'chain-a')).body.errors[0].message).toContain('cycle');
    const bad = await sw.api(dependents('chain-a'), { method: 'POST', body: { projectName: 'website', stackName: 'x', when: 'sometimes' } });
    expect(bad.body.errors.map((e: any) => e.field)).toEqual(['when']);
    expect((await sw.api(`${dependents('chain-a')}/website/nope`, { method: 'DELETE' })).status).toBe(404);
  });

  test('an update of A deploys B and C in parallel, then D after B, passing the upstream deployment', async () => {
    const a = await deploy('chain-a');
    firstA = a;
    expect(a.status).toBe('succeeded');
    const chain = await settledChain('chain-a', a.id);
    expect(chain.status).toBe('succeeded');
    expect(chain.links.map((l: any) => [l.stack, l.wave, l.status])).toEqual([
      ['chain-b', 1, 'succeeded'],
      ['chain-c', 1, 'succeeded'],
      ['chain-d', 2, 'succeeded'],
    ]);
    const get = async (s: string) => (await sw.api(`${stackPath(`chain-${s}`)}/deployments/${chain.links.find((l: any) => l.stack === `chain-${s}`).deploymentId}`)).body;
    const [b, c, d] = [await get('b'), await get('c'), await get('d')];
    for (const x of [b, c, d]) expect(x).toMatchObject({ status: 'succeeded', initiator: 'chain' });
    const t = (x: any) => ({ start: Date.parse(x.jobs[0].started), end: Date.parse(x.jobs[0].lastUpdated) });
    // B and C ran side by side, both after A; D after B.
    expect(t(b).start).toBeLessThan(t(c).end);
    expect(t(c).start).toBeLessThan(t(b).end);
    expect(t(b).start).toBeGreaterThanOrEqual(Date.parse(a.jobs[0].lastUpdated));
    expect(t(d).start).toBeGreaterThanOrEqual(t(b).end);
    expect(readFileSync(join(outs.d, 'hello.txt'), 'utf8')).toBe(`after-${org}/website/chain-b from chain-d`);
    expect(readFileSync(join(outs.b, 'hello.txt'), 'utf8')).toBe(`after-${org}/website/chain-a from chain-b`);
    const env = (await sw.store.getDeploymentById(d.id))!.settings.operationContext!.environmentVariables!;
    expect(env).toMatchObject({ PULUMI_CI_UPSTREAM_DEPLOYMENT_ID: b.id, PULUMI_CI_UPSTREAM_ROOT_DEPLOYMENT_ID: a.id });
  });

  test('the update of A delivered its events to the hooks that want them, retrying a failing receiver; redeliver resends', async () => {
    const a = firstA;
    const path = stackPath('chain-a');
    await eventually('every delivery', async () => (rx.on('/all').length >= 4 && rx.on('/flaky').length >= 3 && rx.on('/teams').length ? true : undefined), 60_000);
    expect(kindsAt('/all').sort()).toEqual(['deployment:not-started', 'deployment:running', 'deployment:succeeded', 'stack_update:undefined'].sort());
    for (const r of rx.on('/all')) expect(r.headers['pulumi-webhook-signature']).toBe(createHmac('sha256', SECRET).update(r.body).digest('hex'));
    const update = JSON.parse(rx.on('/all').find((r) => r.headers['pulumi-webhook-kind'] === 'stack_update')!.body);
    expect(update).toEqual({
      user: { name: expect.any(String), githubLogin: expect.any(String), avatarUrl: '' },
      organization: { name: org, githubLogin: org, avatarUrl: '' },
      projectName: 'website',
      stackName: 'chain-a',
      updateUrl: expect.stringMatching(new RegExp(`${path}/deployments/${a.id}$`)),
      kind: 'update',
      result: 'succeeded',
      resourceChanges: { create: expect.any(Number) },
      isPreview: false,
    });
    const started = JSON.parse(rx.on('/all').find((r) => JSON.parse(r.body).status === 'running')!.body);
    expect(started).toMatchObject({ deploymentUrl: expect.stringContaining(a.id), version: a.version, operation: 'update', status: 'running' });

    expect(kindsAt('/filtered').sort()).toEqual(['deployment:running', 'stack_update:undefined']);
    expect(rx.on('/group').map((r) => r.headers['pulumi-webhook-kind'])).toEqual(['stack_update']);
    expect(rx.on('/inactive')).toEqual([]);
    expect(JSON.parse(rx.on('/slack')[0].body).text).toContain(`${org}/website/chain-a: update succeeded`);
    expect(JSON.parse(rx.on('/teams')[0].body).attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');

    // Two 500s, then delivered: one delivery, three attempts, the same ids each time.
    const flaky = rx.on('/flaky');
    expect(flaky).toHaveLength(3);
    expect(new Set(flaky.map((r) => r.headers['webhook-id'])).size).toBe(1);
    const [delivery] = await eventually('the third attempt recorded', async () => {
      const list = (await sw.api(`${path}/hooks/${hookNames.flaky}/deliveries`)).body;
      return list[0]?.attempt === 3 ? list : undefined;
    }, 20_000);
    expect(delivery).toMatchObject({ kind: 'deployment', event: 'deployment_succeeded', responseCode: 200, attempt: 3, duration: expect.any(Number) });

    // Redeliver: the same payload again, as a new delivery with the same webhook-id.
    const allDeliveries = (await sw.api(`${path}/hooks/${hookNames.all}/deliveries`)).body;
    const original = allDeliveries.find((x: any) => x.event === 'update_succeeded');
    const again = await sw.api(`${path}/hooks/${hookNames.all}/deliveries/${original.id}/redeliver`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ payload: original.payload, responseCode: 200, kind: 'stack_update' });
    expect(again.body.id).not.toBe(original.id);
    const resent = rx.on('/all').at(-1)!;
    expect(resent.body).toBe(original.payload);
    expect(resent.headers['webhook-id']).toBe(rx.on('/all').find((r) => r.body === original.payload)!.headers['webhook-id']);
  });

  test('the pulumi_deployments hook deployed its target on update_succeeded only, as initiator webhook', async () => {
    const path = stackPath('chain-a');
    expect((await sw.api(`${path}/hooks/${hookNames['deploy target']}/ping`, { method: 'POST' })).status).toBe(400);
    const [target] = await eventually('the target deployment', async () => {
      const list = await deploymentsOf('target');
      return list.length ? list : undefined;
    }, 60_000);
    expect(target).toMatchObject({ initiator: 'webhook', pulumiOperation: 'update' });
    expect((await waitForDeployment(sw, stackPath('target'), target.id)).status).toBe('succeeded');
    expect(readFileSync(join(targetOut, 'hello.txt'), 'utf8')).toBe('hello from target');
    // deployment_queued, _started and _succeeded reached the hook's filter too: one deployment, for update_succeeded.
    expect(await deploymentsOf('target')).toHaveLength(1);
    const [delivery] = (await sw.api(`${path}/hooks/${hookNames['deploy target']}/deliveries`)).body;
    expect(delivery).toMatchObject({ event: 'update_succeeded', responseCode: 202, requestUrl: 'website/target' });
    expect(JSON.parse(delivery.responseBody)).toEqual({ id: target.id, version: 1 });
  });

  test('a failure of B stops D and fails the chain', async () => {
    const before = (await deploymentsOf('chain-d')).length;
    const res = await sw.api(`${stackPath('chain-b')}/deployments/settings`, { method: 'POST', body: { operationContext: { preRunCommands: [linkDependencies, 'exit 3'] } } });
    expect(res.status).toBe(200);
    const a = await deploy('chain-a');
    const chain = await settledChain('chain-a', a.id);
    expect(chain.status).toBe('failed');
    const b = chain.links.find((l: any) => l.stack === 'chain-b');
    expect(b.status).toBe('failed');
    expect(chain.links.find((l: any) => l.stack === 'chain-d')).toMatchObject({ status: 'skipped' });
    expect((await waitForDeployment(sw, stackPath('chain-b'), b.deploymentId)).status).toBe('failed');
    expect(await deploymentsOf('chain-d')).toHaveLength(before);
  });

  test('one cancel stops the whole chain', async () => {
    const before = (await deploymentsOf('chain-d')).length;
    // B now takes long enough to be cancelled while it runs.
    const res = await sw.api(`${stackPath('chain-b')}/deployments/settings`, {
      method: 'POST',
      body: { operationContext: { preRunCommands: [linkDependencies, greet], environmentVariables: { CREATE_DELAY_MS: '60000', OUT_DIR: newOutDir() } } },
    });
    expect(res.status).toBe(200);
    const a = await deploy('chain-a');
    const running = await eventually('B running', async () => {
      const r = await chainOf('chain-a', a.id);
      const b = r.body?.links?.find((l: any) => l.stack === 'chain-b');
      if (!b?.deploymentId) return undefined;
      const d = (await sw.api(`${stackPath('chain-b')}/deployments/${b.deploymentId}`)).body;
      return d.status === 'running' ? b : undefined;
    });
    expect((await sw.api(`${stackPath('chain-a')}/deployments/${a.id}/chain/cancel`, { method: 'POST' })).status).toBe(202);
    const chain = await settledChain('chain-a', a.id);
    expect(chain.status).toBe('cancelled');
    expect(chain.links.find((l: any) => l.stack === 'chain-d').status).not.toBe('succeeded');
    expect((await waitForDeployment(sw, stackPath('chain-b'), running.deploymentId)).status).toBe('failed');
    expect(await deploymentsOf('chain-d')).toHaveLength(before);
    expect(existsSync(join(outs.d, 'hello.txt'))).toBe(true); // from the first chain only
    expect((await sw.api(`${stackPath('chain-a')}/deployments/${a.id}/chain/cancel`, { method: 'POST' })).status).toBe(202);
  });
});
