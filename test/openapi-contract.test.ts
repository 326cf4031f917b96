import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { startStackwright, type Stackwright } from './helpers/stackwright';
import { stackStateDir } from '../src/state/backend-url';

// Stackwright's answers checked against Pulumi Cloud's OpenAPI description of the Deployments
// routes, as a client generated from it decodes them. The description is Pulumi's and is not part
// of this repository: it is read from STACKWRIGHT_PULUMI_OPENAPI or ../shared/reference beside the
// checkout. The requests are the ones Pulumi's CLI sends.
const SPEC_PATH = process.env.STACKWRIGHT_PULUMI_OPENAPI ?? resolve(__dirname, '..', '..', 'shared', 'reference', 'pulumi-cloud-openapi-deployments.json');
const spec = existsSync(SPEC_PATH) ? (JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as OpenApi) : undefined;

interface OpenApi {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: object }> }> }>>;
  components: { schemas: Record<string, object> };
}

/**
 * Where the CLI's wire format and the spec disagree, the wire format wins (README, "Using the pulumi
 * CLI"). Each entry names the JSON path in an answer that the spec types differently.
 */
const WIRE_FORMAT_WINS: { route: string; path: RegExp; why: string }[] = [
  {
    route: 'settings',
    path: /^\/operationContext\/environmentVariables\/[^/]+(\/ciphertext)?$/,
    why: 'a plain value is a bare string and a sealed one {ciphertext: string}; the spec wants an object with `secret` and ciphertext as bytes',
  },
  { route: 'encrypt', path: /^(\/ciphertext)?$/, why: 'the CLI reads {ciphertext: string}; the spec requires `secret` and types ciphertext as bytes' },
];

const org = `contract${Date.now().toString(36)}`;
const stackPath = `/api/stacks/${org}/website/dev`;
let sw: Stackwright;
let ajv: Ajv;
const validators = new Map<string, ValidateFunction>();

/** The validator of a route's 2xx JSON answer in the spec (or of a named component schema). */
function schemaFor(path: string, method: string): ValidateFunction {
  const key = `${method} ${path}`;
  let v = validators.get(key);
  if (!v) {
    const op = spec!.paths[path]?.[method];
    if (!op) throw new Error(`the spec has no ${key}`);
    const ok = Object.entries(op.responses ?? {}).find(([code]) => code.startsWith('2'));
    const schema = ok?.[1].content?.['application/json']?.schema;
    if (!schema) throw new Error(`the spec gives no JSON answer for ${key}`);
    v = ajv.compile(rewriteRefs(schema) as object);
    validators.set(key, v);
  }
  return v;
}

const componentValidator = (name: string) => ajv.getSchema(`spec#/components/schemas/${name}`)!;

// Component references point into the spec, registered under the id "spec".
const rewriteRefs = (s: unknown): unknown =>
  Array.isArray(s) ? s.map(rewriteRefs) : s && typeof s === 'object' ? Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === '$ref' ? `spec${v}` : rewriteRefs(v)])) : s;

/** Errors, minus the documented wire-format differences of this route. */
function violations(v: ValidateFunction, body: unknown, route = ''): string[] {
  v(body);
  return (v.errors ?? [])
    .filter((e) => !WIRE_FORMAT_WINS.some((w) => w.route === route && w.path.test(e.instancePath)))
    .map((e) => `${e.instancePath || '(root)'} ${e.message} ${JSON.stringify(e.params)}`);
}

async function call(method: string, url: string, body?: unknown) {
  const res = await sw.api(url, { method, body });
  if (res.status >= 300) throw new Error(`${method} ${url} → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const T = '{orgName}/{projectName}/{stackName}';

(spec ? describe : describe.skip)('answers match Pulumi Cloud\'s OpenAPI schemas', () => {
  let deploymentId: string;

  beforeAll(async () => {
    ajv = new Ajv({ strict: false, allErrors: true, formats: { int64: true, byte: true } });
    addFormats(ajv);
    // OpenAPI's discriminator has no oneOf here: a generated client picks the schema by __type.
    const schemas = JSON.parse(JSON.stringify(spec!.components.schemas, (k, v) => (k === 'discriminator' ? undefined : v)));
    ajv.addSchema({ $id: 'spec', components: { schemas: rewriteRefs(schemas) } });
    sw = await startStackwright({}, { worker: false });

    // A stack with history in its file backend, as a deployment leaves it.
    const state = join(stackStateDir(sw.config.dataDir, { org, project: 'website', stack: 'dev' }), '.pulumi');
    mkdirSync(join(state, 'stacks', 'website'), { recursive: true });
    mkdirSync(join(state, 'history', 'website', 'dev'), { recursive: true });
    writeFileSync(join(state, 'stacks', 'website', 'dev.json'), JSON.stringify({ version: 3, checkpoint: { stack: `${org}/website/dev`, latest: { manifest: { time: '2026-01-01T00:00:00Z', magic: 'm', version: 'v3.248.0' }, resources: [] } } }));
    writeFileSync(
      join(state, 'history', 'website', 'dev', 'dev-1767225600000000000.history.json'),
      JSON.stringify({ kind: 'update', startTime: 1767225600, endTime: 1767225610, message: 'program', environment: { 'ci.build.id': 'x' }, config: {}, result: 'succeeded', resourceChanges: { create: 2 } }),
    );
  });
  afterAll(async () => sw?.stop());

  test('login: /api/user, /api/user/organizations/default, /api/capabilities', async () => {
    expect(violations(schemaFor('/api/user', 'get'), await call('GET', '/api/user'))).toEqual([]);
    expect(violations(schemaFor('/api/user/organizations/default', 'get'), await call('GET', '/api/user/organizations/default'))).toEqual([]);
    expect(violations(schemaFor('/api/capabilities', 'get'), await call('GET', '/api/capabilities'))).toEqual([]);
  });

  test('settings: PUT, POST, GET as `pulumi deployment settings` sends them; encrypt; DELETE answers a boolean', async () => {
    const settings = schemaFor(`/api/stacks/${T}/deployments/settings`, 'get');
    const enc = await call('POST', `${stackPath}/deployments/settings/encrypt`, JSON.stringify('s3cr3t'));
    expect(violations(schemaFor(`/api/stacks/${T}/deployments/settings/encrypt`, 'post'), enc, 'encrypt')).toEqual([]);
    const put = await call('PUT', `${stackPath}/deployments/settings`, {
      executorContext: { workingDirectory: '' },
      sourceContext: { git: { repoUrl: 'https://git.example.com/acme/website.git', branch: 'main' } },
      operationContext: { preRunCommands: null, operation: '', environmentVariables: { PLAIN: 'v', SEALED: { ciphertext: enc.ciphertext } }, options: { skipInstallDependencies: false, skipIntermediateDeployments: false, shell: '', deleteAfterDestroy: false, remediateIfDriftDetected: false } },
      agentPoolID: null,
    });
    expect(violations(schemaFor(`/api/stacks/${T}/deployments/settings`, 'put'), put, 'settings')).toEqual([]);
    const patched = await call('POST', `${stackPath}/deployments/settings`, { operationContext: { environmentVariables: { PLAIN: null, OTHER: 'x' } } });
    expect(violations(schemaFor(`/api/stacks/${T}/deployments/settings`, 'post'), patched, 'settings')).toEqual([]);
    expect(violations(settings, await call('GET', `${stackPath}/deployments/settings`), 'settings')).toEqual([]);
    const scratch = `/api/stacks/${org}/website/scratch/deployments/settings`;
    await call('PUT', scratch, { sourceContext: { git: { repoUrl: 'https://git.example.com/x.git' } } });
    const del = await call('DELETE', scratch);
    expect(violations(schemaFor(`/api/stacks/${T}/deployments/settings`, 'delete'), del)).toEqual([]);
    expect(del).toBe(true);
  });

  test('deployments: create as the CLI sends it, list, get by id and version, logs in both modes, updates, cancel', async () => {
    const created = await call('POST', `${stackPath}/deployments`, {
      operation: 'update',
      inheritSettings: true,
      executorContext: { workingDirectory: '' },
      operationContext: { preRunCommands: ['echo hi'], operation: '', environmentVariables: { A: '1', B: { secret: 'b' } }, options: null },
      agentPoolID: null,
    });
    expect(violations(schemaFor(`/api/stacks/${T}/deployments`, 'post'), created)).toEqual([]);
    deploymentId = created.id;
    // Let it look like a finished run: steps done, lines logged.
    await sw.store.setStatus(deploymentId, 'running');
    await sw.store.setStep(deploymentId, 0, 'running');
    await sw.store.appendLogs(deploymentId, 0, [{ seq: 0, ts: new Date().toISOString(), line: 'cloned\n' }]);
    await sw.store.setStep(deploymentId, 0, 'succeeded');
    await sw.store.finishDeployment(deploymentId, 'succeeded');

    const list = await call('GET', `${stackPath}/deployments?page=1&pageSize=10`);
    expect(violations(schemaFor(`/api/stacks/${T}/deployments`, 'get'), list)).toEqual([]);
    expect(violations(schemaFor(`/api/stacks/${T}/deployments/{deploymentId}`, 'get'), await call('GET', `${stackPath}/deployments/${deploymentId}`))).toEqual([]);
    expect(violations(schemaFor(`/api/stacks/${T}/deployments/version/{version}`, 'get'), await call('GET', `${stackPath}/deployments/version/1`))).toEqual([]);
    expect(violations(schemaFor(`/api/orgs/{orgName}/deployments`, 'get'), await call('GET', `/api/orgs/${org}/deployments`))).toEqual([]);

    const stream = await call('GET', `${stackPath}/deployments/${deploymentId}/logs`);
    expect(stream.__type).toBe('DeploymentLogs');
    expect(violations(componentValidator('DeploymentLogs'), stream)).toEqual([]);
    const step = await call('GET', `${stackPath}/deployments/${deploymentId}/logs?job=0&step=0&offset=0&count=10`);
    expect(step.__type).toBe('DeploymentLogsStep');
    expect(violations(componentValidator('DeploymentLogsStep'), step)).toEqual([]);
    expect(violations(schemaFor(`/api/stacks/${T}/deployments/{deploymentId}/updates`, 'get'), await call('GET', `${stackPath}/deployments/${deploymentId}/updates`))).toEqual([]);

    const queued = await call('POST', `${stackPath}/deployments`, { operation: 'preview', inheritSettings: true });
    const cancelled = await sw.api(`${stackPath}/deployments/${queued.id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
  });

  test('queue metadata, pause and resume; drift runs and status', async () => {
    for (const p of ['pause', 'resume']) await call('POST', `${stackPath}/deployments/${p}`);
    expect(violations(schemaFor(`/api/stacks/${T}/deployments/metadata`, 'get'), await call('GET', `${stackPath}/deployments/metadata`))).toEqual([]);
    for (const p of ['pause', 'resume']) await call('POST', `/api/orgs/${org}/deployments/${p}`);
    expect(violations(schemaFor('/api/orgs/{orgName}/deployments/metadata', 'get'), await call('GET', `/api/orgs/${org}/deployments/metadata`))).toEqual([]);
    expect(violations(schemaFor(`/api/stacks/${T}/drift/runs`, 'get'), await call('GET', `${stackPath}/drift/runs`))).toEqual([]);
    expect(violations(schemaFor(`/api/stacks/${T}/drift/status`, 'get'), await call('GET', `${stackPath}/drift/status`))).toEqual([]);
  });

  test('the stack, its export and its update history', async () => {
    const stack = await call('GET', stackPath);
    expect(violations(schemaFor(`/api/stacks/${T}`, 'get'), stack)).toEqual([]);
    expect(stack).toMatchObject({ orgName: org, projectName: 'website', stackName: 'dev', version: 1 });
    expect(violations(schemaFor(`/api/stacks/${T}/export`, 'get'), await call('GET', `${stackPath}/export`))).toEqual([]);
    expect(violations(schemaFor(`/api/stacks/${T}/updates/latest`, 'get'), await call('GET', `${stackPath}/updates/latest`))).toEqual([]);
    expect(violations(schemaFor(`/api/stacks/${T}/updates/{version}`, 'get'), await call('GET', `${stackPath}/updates/1`))).toEqual([]);
    const history = await call('GET', `${stackPath}/updates`);
    expect(history.updates).toHaveLength(1);
    for (const u of history.updates) expect(violations(componentValidator('AppUpdateInfo'), u)).toEqual([]);
  });

  test('schedules: raw, drift and TTL created, read, listed, updated, paused, resumed, their history, deleted', async () => {
    const base = `/api/stacks/${T}/deployments`;
    const at = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const raw = await call('POST', `${stackPath}/deployments/schedules`, { scheduleCron: '0 0 1 1 *', request: { operation: 'refresh', inheritSettings: true } });
    const drift = await call('POST', `${stackPath}/deployments/drift/schedules`, { scheduleCron: '0 0 1 1 *', autoRemediate: true });
    const ttl = await call('POST', `${stackPath}/deployments/ttl/schedules`, { timestamp: at, deleteAfterDestroy: true });
    expect(violations(schemaFor(`${base}/schedules`, 'post'), raw)).toEqual([]);
    expect(violations(schemaFor(`${base}/drift/schedules`, 'post'), drift)).toEqual([]);
    expect(violations(schemaFor(`${base}/ttl/schedules`, 'post'), ttl)).toEqual([]);
    expect(violations(schemaFor(`${base}/schedules`, 'get'), await call('GET', `${stackPath}/deployments/schedules`))).toEqual([]);
    expect(violations(schemaFor(`${base}/schedules/{scheduleID}`, 'get'), await call('GET', `${stackPath}/deployments/schedules/${raw.id}`))).toEqual([]);
    const once = new Date(Date.now() + 86_400_000).toISOString();
    const updated = await call('POST', `${stackPath}/deployments/schedules/${raw.id}`, { scheduleOnce: once, request: { operation: 'update' } });
    expect(violations(schemaFor(`${base}/schedules/{scheduleID}`, 'post'), updated)).toEqual([]);
    expect(violations(schemaFor(`${base}/drift/schedules/{scheduleID}`, 'post'), await call('POST', `${stackPath}/deployments/drift/schedules/${drift.id}`, { scheduleCron: '0 1 * * *' }))).toEqual([]);
    expect(violations(schemaFor(`${base}/ttl/schedules/{scheduleID}`, 'post'), await call('POST', `${stackPath}/deployments/ttl/schedules/${ttl.id}`, { timestamp: at }))).toEqual([]);
    await call('POST', `${stackPath}/deployments/schedules/${raw.id}/pause`);
    await call('POST', `${stackPath}/deployments/schedules/${raw.id}/resume`);
    expect(violations(schemaFor(`${base}/schedules/{scheduleID}/history`, 'get'), await call('GET', `${stackPath}/deployments/schedules/${raw.id}/history`))).toEqual([]);
    for (const s of [raw, drift, ttl]) await call('DELETE', `${stackPath}/deployments/schedules/${s.id}`);
  });

  test('hooks: create, get, list, patch, ping, deliveries, redeliver (stack and organization)', async () => {
    for (const [base, tpl] of [[`${stackPath}/hooks`, `/api/stacks/${T}/hooks`], [`/api/orgs/${org}/hooks`, '/api/orgs/{orgName}/hooks']]) {
      const created = await call('POST', base, { displayName: 'contract', payloadUrl: 'http://127.0.0.1:9/hook', secret: 's3cr3t', active: true });
      expect(violations(schemaFor(tpl, 'post'), created)).toEqual([]);
      const one = `${base}/${created.name}`;
      expect(violations(schemaFor(`${tpl}/{hookName}`, 'get'), await call('GET', one))).toEqual([]);
      expect(violations(schemaFor(tpl, 'get'), await call('GET', base))).toEqual([]);
      expect(violations(schemaFor(`${tpl}/{hookName}`, 'patch'), await call('PATCH', one, { filters: ['update_succeeded'] }))).toEqual([]);
      // Loopback is refused here: the ping is recorded with no response.
      const ping = await call('POST', `${one}/ping`);
      expect(ping.responseCode).toBe(0);
      expect(violations(schemaFor(`${tpl}/{hookName}/ping`, 'post'), ping)).toEqual([]);
      expect(violations(schemaFor(`${tpl}/{hookName}/deliveries`, 'get'), await call('GET', `${one}/deliveries`))).toEqual([]);
      const again = await call('POST', `${one}/deliveries/${ping.id}/redeliver`);
      expect(violations(schemaFor(`${tpl}/{hookName}/deliveries/{event}/redeliver`, 'post'), again)).toEqual([]);
    }
  });

  test('routes of the description that Stackwright does not serve answer 404 with {code, message}', async () => {
    const served = /deployments(\/|$)|\/settings|\/drift\/(runs|status)$|\/export$|\/updates|\/api\/user|\/capabilities|\/hooks(\/|$)|^\/api\/stacks\/[^/]+\/[^/]+\/[^/]+$/;
    const unserved = Object.keys(spec!.paths).filter((p) => !served.test(p) || /cache\/url/.test(p));
    expect(unserved.length).toBeGreaterThan(0);
    for (const p of unserved) {
      const url = p.replace('{orgName}', org).replace('{projectName}', 'website').replace('{stackName}', 'dev').replace(/\{[^}]+\}/g, 'x');
      const res = await sw.api(url, { method: Object.keys(spec!.paths[p])[0].toUpperCase() });
      expect([url, res.status, res.body]).toEqual([url, 404, { code: 404, message: expect.any(String) }]);
    }
  });
});
