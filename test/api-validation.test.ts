import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { createApp } from '../src/api/app';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { SecretBox } from '../src/secret-box';
import type { StackRef } from '../src/shared/names';
import { EventReader, linesOf } from './helpers/sse';

// The HTTP API in-process (Hono's app.request), a real SQLite store, a fake Temporal client.

const TOKEN = randomBytes(24).toString('base64url');
// Clear secret values sent in requests. None may ever appear in a response body. Base64
// ciphertext has no '-', so these cannot occur in one by chance.
const SECRET = 'sw-clear-Hq7pX2vL9-env';
const SECRET_TOKEN = 'sw-clear-Tk3mW8zR1-git';
const SECRET_HIDDEN = 'sw-clear-Jd5nB4cY6-issecret';
const SECRET_OVERRIDE = 'sw-clear-Pe2sF7gA0-override';
const SECRET_REJECTED = 'sw-clear-Zu9qL1xN3-rejected';
const SECRETS = [SECRET, SECRET_TOKEN, SECRET_HIDDEN, SECRET_OVERRIDE, SECRET_REJECTED];

interface SignalCall {
  workflowType: unknown;
  options: any;
}

let dir: string;
let store: Store;
let box: SecretBox;
let app: ReturnType<typeof createApp>;
const signals: SignalCall[] = [];
let signalFailure: Error | undefined;
/** Signals sent to running workflows through handles; queue workflows listed here exist. */
const handleSignals: { workflowId: string; signal: string; args: unknown[] }[] = [];
const runningQueues = new Set<string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stackwright-api-'));
  store = new Store(await openDatabase(join(dir, 'db.sqlite')));
  box = new SecretBox(randomBytes(32));
  const temporal = {
    workflow: {
      async signalWithStart(workflowType: unknown, options: unknown) {
        if (signalFailure) throw signalFailure;
        signals.push({ workflowType, options });
        return {};
      },
      getHandle(workflowId: string) {
        return {
          async signal(def: { name: string }, ...args: unknown[]) {
            if (!runningQueues.has(workflowId)) throw new WorkflowNotFoundError('not found', workflowId, undefined);
            handleSignals.push({ workflowId, signal: def.name, args });
          },
        };
      },
    },
  } as unknown as Client;
  app = createApp({
    store,
    box,
    temporal,
    token: TOKEN,
    taskQueue: 'api-validation-test',
    namespace: 'default',
    publicUrl: 'http://stackwright.test',
    log: pino({ level: 'silent' }),
    logStream: { pollMs: 20, keepAliveMs: 150 },
    stateBackendUrl: (ref) => `file:///nonexistent/stackwright-state/${ref.org}`,
    pulumiPassphrase: async () => 'not-used',
  });
});

afterAll(async () => {
  await store?.db.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers

/** A body sent as is, not JSON-encoded. */
class Raw {
  constructor(readonly text: string) {}
}
const raw = (text: string) => new Raw(text);

interface Res {
  status: number;
  text: string;
  body: any;
  headers: Headers;
}

interface CallOptions {
  body?: unknown;
  /** null: no Authorization header. */
  token?: string | null;
  headers?: Record<string, string>;
  /** Content-Type of a body; null: none. application/json unless told. */
  contentType?: string | null;
}

const URL_TOKEN = 'url-token-never-echoed-5Rt';

/** Every request of this file goes through here: none may answer 500 or echo a clear secret. */
async function call(method: string, path: string, o: CallOptions = {}): Promise<Res> {
  const headers: Record<string, string> = {};
  if (o.token !== null) headers.Authorization = `token ${o.token ?? TOKEN}`;
  let body: string | undefined;
  if (o.body instanceof Raw) body = o.body.text;
  else if (o.body !== undefined) body = JSON.stringify(o.body);
  const type = o.contentType === undefined ? 'application/json' : o.contentType;
  if (body !== undefined && type !== null) headers['Content-Type'] = type;
  Object.assign(headers, o.headers);
  const res = await app.request(path, { method, headers, body });
  const text = await res.text();
  expect(res.status).not.toBe(500);
  // 503 is the one deliberate server-side answer (Temporal unreachable).
  expect(res.status < 500 || res.status === 503).toBe(true);
  for (const s of [...SECRETS, URL_TOKEN]) expect(text).not.toContain(s);
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, text, body: parsed, headers: res.headers };
}

const ref = (stack: string, org = 'acme', project = 'website'): StackRef => ({ org, project, stack });
const base = (r: StackRef) => `/api/stacks/${r.org}/${r.project}/${r.stack}`;
const settingsPath = (r: StackRef) => `${base(r)}/deployments/settings`;
const deploymentsPath = (r: StackRef) => `${base(r)}/deployments`;

/** A 400 in the API's shape whose errors name `field` (or a field under it). */
function expectBadRequest(res: Res, field: string) {
  expect(res.status).toBe(400);
  expect(res.body).toEqual({ code: 400, message: expect.any(String), errors: expect.any(Array) });
  expect(res.body.errors.length).toBeGreaterThan(0);
  for (const e of res.body.errors) expect(e).toEqual({ field: expect.any(String), message: expect.any(String) });
  const fields: string[] = res.body.errors.map((e: { field: string }) => e.field);
  expect(fields.some((f) => f === field || f.startsWith(`${field}.`))).toBe(true);
  expect(res.body.message).toContain(field);
}

function expectError(res: Res, status: number) {
  expect(res.status).toBe(status);
  expect(res.body).toEqual(expect.objectContaining({ code: status, message: expect.any(String) }));
}

/** The raw stored row, to prove a rejected write changed nothing at all. */
async function settingsRow(r: StackRef) {
  return store.db
    .selectFrom('stack_settings')
    .selectAll()
    .where('org', '=', r.org)
    .where('project', '=', r.project)
    .where('stack', '=', r.stack)
    .executeTakeFirst();
}

const deploymentCount = async (r: StackRef) => (await store.listDeployments(r, { page: 1, pageSize: 100, asc: true })).total;

const validSettings = {
  sourceContext: { git: { repoURL: 'https://git.example.com/acme/website.git', branch: 'refs/heads/main', repoDir: 'infra' } },
  operationContext: {
    preRunCommands: ['npm run build'],
    environmentVariables: { AWS_REGION: 'eu-west-1', API_KEY: { secret: SECRET } },
    options: { skipInstallDependencies: false },
  },
};

// ---------------------------------------------------------------------------------------------
// Settings: bad inputs change nothing

describe('settings validation', () => {
  const guarded = ref('guarded');
  let storedText: string;

  beforeAll(async () => {
    const res = await call('PUT', settingsPath(guarded), { body: validSettings });
    expect(res.status).toBe(200);
    storedText = (await call('GET', settingsPath(guarded))).text;
  });

  const cases: [string, unknown, string][] = [
    ['invalid JSON text', raw('{"sourceContext": {"git": '), '(body)'],
    ['an empty body', raw(''), '(body)'],
    ['a JSON array', [validSettings], '(body)'],
    ['a JSON string', 'sourceContext', '(body)'],
    ['a JSON number', 42, '(body)'],
    ['JSON null', null, '(body)'],
    ['an unknown top-level key', { ...validSettings, colour: 'blue' }, 'colour'],
    ['an unknown nested key', { operationContext: { preRunCommand: ['echo hi'] } }, 'operationContext.preRunCommand'],
    ['an unknown git key', { sourceContext: { git: { url: 'https://x' } } }, 'sourceContext.git.url'],
    ['preRunCommands not an array', { operationContext: { preRunCommands: 'echo hi' } }, 'operationContext.preRunCommands'],
    ['an empty pre-run command', { operationContext: { preRunCommands: ['echo hi', ''] } }, 'operationContext.preRunCommands.1'],
    ['an env var value that is a number', { operationContext: { environmentVariables: { PORT: 8080 } } }, 'operationContext.environmentVariables.PORT'],
    ['environmentVariables an array', { operationContext: { environmentVariables: ['A=1'] } }, 'operationContext.environmentVariables'],
    ['an env var name with a dash', { operationContext: { environmentVariables: { 'MY-VAR': 'x' } } }, 'operationContext.environmentVariables.MY-VAR'],
    ['an env var name starting with a digit', { operationContext: { environmentVariables: { '1ST': 'x' } } }, 'operationContext.environmentVariables.1ST'],
    ['an env var name with a space', { operationContext: { environmentVariables: { 'A B': 'x' } } }, 'operationContext.environmentVariables.A B'],
    ['a branch starting with -', { sourceContext: { git: { branch: '--upload-pack=touch pwned' } } }, 'sourceContext.git.branch'],
    ['an executor image (deployments run on workers)', { executorContext: { executorImage: 'img:1' } }, 'executorContext.executorImage'],
    ['an agent pool name that cannot name a task queue', { agentPoolID: 'pool 1/x' }, 'agentPoolID'],
    ['an operation (settings serve every operation)', { operationContext: { operation: 'update' } }, 'operationContext.operation'],
    ['an OIDC AWS roleArn that is no role ARN', { operationContext: { oidc: { aws: { roleArn: 'r', sessionName: 'deploy' } } } }, 'operationContext.oidc.aws.roleArn'],
    ['an OIDC AWS session duration (not honoured)', { operationContext: { oidc: { aws: { roleArn: 'arn:aws:iam::123456789012:role/d', sessionName: 'deploy', duration: '1h' } } } }, 'operationContext.oidc.aws.duration'],
    ['an OIDC Azure block without tenantId', { operationContext: { oidc: { azure: { clientId: '11111111-2222-3333-4444-555555555555', subscriptionId: '11111111-2222-3333-4444-555555555555' } } } }, 'operationContext.oidc.azure.tenantId'],
    ['an OIDC GCP projectId that is not the project number', { operationContext: { oidc: { gcp: { projectId: 'acme', workloadPoolId: 'pool', providerId: 'prov', serviceAccount: 'd@p.iam.gserviceaccount.com' } } } }, 'operationContext.oidc.gcp.projectId'],
    ['an unknown OIDC cloud', { operationContext: { oidc: { oci: { tenancy: 'x' } } } }, 'operationContext.oidc.oci'],
    ['deleteAfterDestroy (not available yet)', { operationContext: { options: { deleteAfterDestroy: true } } }, 'operationContext.options.deleteAfterDestroy'],
    ['a ciphertext this server did not make', { operationContext: { environmentVariables: { K: { ciphertext: 'v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } } } }, 'operationContext.environmentVariables.K.ciphertext'],
    ['a repoURL starting with -', { sourceContext: { git: { repoURL: '--config=core.sshCommand=sh' } } }, 'sourceContext.git.repoURL'],
    ['a repoUrl (other spelling) starting with -', { sourceContext: { git: { repoUrl: '-uhttps://x' } } }, 'sourceContext.git.repoURL'],
    ['an ext:: repoURL', { sourceContext: { git: { repoURL: 'ext::sh -c touch% /tmp/pwned' } } }, 'sourceContext.git.repoURL'],
    ['an fd:: repoURL', { sourceContext: { git: { repoURL: 'fd::3' } } }, 'sourceContext.git.repoURL'],
    ['a file:// repoURL without STACKWRIGHT_ALLOW_LOCAL_REPOS', { sourceContext: { git: { repoURL: 'file:///srv/repo.git' } } }, 'sourceContext.git.repoURL'],
    ['a local path repoURL', { sourceContext: { git: { repoURL: '/srv/repo.git' } } }, 'sourceContext.git.repoURL'],
    ['a git:// repoURL', { sourceContext: { git: { repoURL: 'git://example.com/r.git' } } }, 'sourceContext.git.repoURL'],
    ['a metadata-address repoURL', { sourceContext: { git: { repoURL: 'http://169.254.169.254/latest/meta-data' } } }, 'sourceContext.git.repoURL'],
    ['an EC2 IPv6 metadata repoURL', { sourceContext: { git: { repoURL: 'https://[fd00:ec2::254]/r.git' } } }, 'sourceContext.git.repoURL'],
    ['a scp-like repoURL to a link-local host', { sourceContext: { git: { repoURL: 'git@169.254.1.1:r.git' } } }, 'sourceContext.git.repoURL'],
    ['an absolute repoDir', { sourceContext: { git: { repoDir: '/etc' } } }, 'sourceContext.git.repoDir'],
    ['a repoDir with ..', { sourceContext: { git: { repoDir: 'infra/../../etc' } } }, 'sourceContext.git.repoDir'],
    ['a repoDir that is ..', { sourceContext: { git: { repoDir: '..' } } }, 'sourceContext.git.repoDir'],
    ['a repoDir with backslash ..', { sourceContext: { git: { repoDir: 'infra\\..\\..' } } }, 'sourceContext.git.repoDir'],
    ['a commit that is not hex', { sourceContext: { git: { commit: 'HEAD~1' } } }, 'sourceContext.git.commit'],
    ['a commit that is an option', { sourceContext: { git: { commit: '--all' } } }, 'sourceContext.git.commit'],
    ['a commit that is a number', { sourceContext: { git: { commit: 1234567 } } }, 'sourceContext.git.commit'],
    ['git not an object', { sourceContext: { git: 'https://x' } }, 'sourceContext.git'],
    ['vcs without provider', { vcs: { repository: 'acme/website', deployCommits: true } }, 'vcs.provider'],
    ['vcs with an unknown provider', { vcs: { provider: 'svn' } }, 'vcs.provider'],
    ['gitHub with an unknown key', { gitHub: { repository: 'acme/website', provider: 'github' } }, 'gitHub.provider'],
    ['a boolean option that is a string', { operationContext: { options: { skipInstallDependencies: 'yes' } } }, 'operationContext.options.skipInstallDependencies'],
    [
      'a secret object with extra keys',
      { operationContext: { environmentVariables: { TOKEN: { secret: SECRET_REJECTED, note: 'x' } } } },
      'operationContext.environmentVariables.TOKEN',
    ],
    [
      'an isSecret object with extra keys',
      { operationContext: { environmentVariables: { TOKEN: { isSecret: true, value: SECRET_REJECTED, x: 1 } } } },
      'operationContext.environmentVariables.TOKEN',
    ],
    [
      'a secret object whose value is not a string',
      { operationContext: { environmentVariables: { TOKEN: { secret: 42 } } } },
      'operationContext.environmentVariables.TOKEN',
    ],
    [
      'an accessToken object with extra keys',
      { sourceContext: { git: { gitAuth: { accessToken: { secret: SECRET_REJECTED, user: 'x' } } } } },
      'sourceContext.git.gitAuth.accessToken',
    ],
    ['an empty ciphertext', { operationContext: { environmentVariables: { TOKEN: { ciphertext: '' } } } }, 'operationContext.environmentVariables.TOKEN'],
    ['basicAuth without a password', { sourceContext: { git: { gitAuth: { basicAuth: { userName: 'me' } } } } }, 'sourceContext.git.gitAuth.basicAuth.password'],
    ['too many pre-run commands', { operationContext: { preRunCommands: Array(51).fill('true') } }, 'operationContext.preRunCommands'],
  ];

  test.each(cases.flatMap(([what, body, field]) => ['POST', 'PUT'].map((m) => [m, what, body, field] as const)))(
    '%s with %s → 400 naming the field, stored settings untouched',
    async (method, _what, body, field) => {
      const rowBefore = await settingsRow(guarded);
      const res = await call(method, settingsPath(guarded), { body });
      expectBadRequest(res, field);
      expect((await call('GET', settingsPath(guarded))).text).toBe(storedText);
      expect(await settingsRow(guarded)).toEqual(rowBefore);
    },
  );

  // Hono's json validator reads such bodies as `{}`: a PUT would have wiped the settings.
  test.each([
    ['POST', null, '{"sourceContext": null}'],
    ['PUT', null, '{}'],
    ['PUT', 'text/plain', '{}'],
    ['PUT', 'application/x-www-form-urlencoded', 'sourceContext=x'],
    ['POST', 'text/plain', 'not json'],
  ])('%s with Content-Type %s → 415, stored settings untouched', async (method, type, body) => {
    const rowBefore = await settingsRow(guarded);
    expectError(await call(method, settingsPath(guarded), { body: raw(body), contentType: type }), 415);
    expect((await call('GET', settingsPath(guarded))).text).toBe(storedText);
    expect(await settingsRow(guarded)).toEqual(rowBefore);
  });

  test('credentials in an https repoURL are moved into a sealed gitAuth and never echoed', async () => {
    const s = ref('url-credentials');
    const res = await call('PUT', settingsPath(s), { body: { sourceContext: { git: { repoURL: `https://deployer:${URL_TOKEN}@git.example.com/acme/r.git` } } } });
    expect(res.status).toBe(200);
    expect(res.body.sourceContext.git.repoURL).toBe('https://git.example.com/acme/r.git');
    expect(res.body.sourceContext.git.gitAuth.basicAuth).toEqual({ userName: 'deployer', password: { ciphertext: expect.stringMatching(/^v1:/) } });
    expect(box.decrypt(res.body.sourceContext.git.gitAuth.basicAuth.password.ciphertext)).toBe(URL_TOKEN);
    expect(JSON.stringify(await store.getSettings(s))).not.toContain(URL_TOKEN);
  });

  test('a JSON content type with parameters or a +json suffix is accepted', async () => {
    const s = ref('content-types');
    const a = await call('PUT', settingsPath(s), { body: validSettings, contentType: 'application/json; charset=utf-8' });
    expect(a.status).toBe(200);
    const b = await call('POST', settingsPath(s), { body: { tag: 'x' }, contentType: 'application/merge-patch+json' });
    expect(b.status).toBe(200);
    expect(b.body.tag).toBe('x');
  });
});

// ---------------------------------------------------------------------------------------------
// Path names

describe('bad org, project and stack names', () => {
  const long = 'a'.repeat(101);
  const names: [string, string, string, string, 'org' | 'project' | 'stack'][] = [
    ['an org with a space', 'my%20org', 'website', 'dev', 'org'],
    ['a project with a space', 'acme', 'web%20site', 'dev', 'project'],
    ['a stack with a space', 'acme', 'website', 'dev%20env', 'stack'],
    // A bare '..' segment never reaches the router (URLs resolve it); these carry it in a name.
    ['an org with ../', '..%2F..', 'website', 'dev', 'org'],
    ['a project with ..', 'acme', '..%2Fetc', 'dev', 'project'],
    ['a stack starting with ..', 'acme', 'website', '..dev', 'stack'],
    ['an org starting with -', '-acme', 'website', 'dev', 'org'],
    ['a project starting with -', 'acme', '-website', 'dev', 'project'],
    ['a stack starting with -', 'acme', 'website', '--dev', 'stack'],
    ['a 101-character org', long, 'website', 'dev', 'org'],
    ['a 41-character org', 'a'.repeat(41), 'website', 'dev', 'org'],
    ['a 101-character project', 'acme', long, 'dev', 'project'],
    ['a 101-character stack', 'acme', 'website', long, 'stack'],
    ['a stack with a shell character', 'acme', 'website', 'dev%3Brm', 'stack'],
  ];

  const routes: [string, (b: string) => string, unknown][] = [
    ['GET', (b) => `${b}/deployments/settings`, undefined],
    ['POST', (b) => `${b}/deployments/settings`, validSettings],
    ['PUT', (b) => `${b}/deployments/settings`, validSettings],
    ['DELETE', (b) => `${b}/deployments/settings`, undefined],
    ['POST', (b) => `${b}/deployments`, { operation: 'update', ...validSettings }],
    ['GET', (b) => `${b}/deployments`, undefined],
    ['GET', (b) => `${b}/deployments/00000000-0000-0000-0000-000000000000`, undefined],
    ['GET', (b) => `${b}/deployments/00000000-0000-0000-0000-000000000000/logs`, undefined],
    ['POST', (b) => `${b}/deployments/00000000-0000-0000-0000-000000000000/cancel`, undefined],
    ['POST', (b) => `${b}/deployments/pause`, undefined],
    ['POST', (b) => `${b}/deployments/resume`, undefined],
    ['GET', (b) => `${b}/deployments/metadata`, undefined],
    ['GET', (b) => `${b}/drift/runs`, undefined],
    ['GET', (b) => `${b}/drift/status`, undefined],
    ['GET', (b) => `${b}/deployments/version/1`, undefined],
  ];

  const settingsRows = async () => (await store.db.selectFrom('stack_settings').select('org').execute()).length;

  test.each(names)('%s → 400 naming it on every route', async (_what, org, project, stack, field) => {
    const before = signals.length;
    const rowsBefore = await settingsRows();
    for (const [method, path, body] of routes) {
      const res = await call(method, path(`/api/stacks/${org}/${project}/${stack}`), { body });
      expectBadRequest(res, field);
    }
    expect(signals.length).toBe(before);
    expect(await settingsRows()).toBe(rowsBefore);
  });

  test('names at the limits are accepted', async () => {
    const r = ref('s'.repeat(100), 'o'.repeat(40), 'p'.repeat(100));
    expect((await call('PUT', settingsPath(r), { body: validSettings })).status).toBe(200);
    expect((await call('DELETE', settingsPath(r))).status).toBe(200);
    const dotted = ref('dev.eu-west_1', 'a.b', 'web-site_2');
    expect((await call('PUT', settingsPath(dotted), { body: validSettings })).status).toBe(200);
    expect((await call('DELETE', settingsPath(dotted))).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// Deployment requests

describe('deployment request validation', () => {
  const withSettings = ref('deploy-guarded');
  const bare = ref('deploy-bare');
  const repoURL = 'https://git.example.com/acme/website.git';

  beforeAll(async () => {
    expect((await call('PUT', settingsPath(withSettings), { body: validSettings })).status).toBe(200);
  });

  const cases: [string, StackRef, unknown, number, string | undefined][] = [
    ['a missing operation', withSettings, {}, 400, 'operation'],
    ['an unknown operation (deploy)', withSettings, { operation: 'deploy' }, 400, 'operation'],
    ['an operation in the wrong case', withSettings, { operation: 'Update' }, 400, 'operation'],
    ['an operation that is not a string', withSettings, { operation: 1 }, 400, 'operation'],
    ['inheritSettings as a string', withSettings, { operation: 'update', inheritSettings: 'false' }, 400, 'inheritSettings'],
    ['inheritSettings as a number', withSettings, { operation: 'update', inheritSettings: 0 }, 400, 'inheritSettings'],
    ['an unknown key', withSettings, { operation: 'update', stackName: 'dev' }, 400, 'stackName'],
    ['invalid JSON', withSettings, raw('{"operation": "update"'), 400, '(body)'],
    ['a JSON array', withSettings, [{ operation: 'update' }], 400, '(body)'],
    ['a bad override', withSettings, { operation: 'update', operationContext: { preRunCommands: 'x' } }, 400, 'operationContext.preRunCommands'],
    ['an override branch starting with -', withSettings, { operation: 'update', sourceContext: { git: { branch: '-b' } } }, 400, 'sourceContext.git.branch'],
    [
      'a secret override with extra keys',
      withSettings,
      { operation: 'update', operationContext: { environmentVariables: { X: { secret: SECRET_REJECTED, y: 1 } } } },
      400,
      'operationContext.environmentVariables.X',
    ],
    ['no stored settings and no source', bare, { operation: 'update' }, 404, undefined],
    ['no stored settings and inheritSettings false', bare, { operation: 'update', inheritSettings: false }, 400, 'sourceContext.git.repoURL'],
    ['no stored settings, a source without repoURL', bare, { operation: 'update', sourceContext: { git: { branch: 'main' } } }, 400, 'sourceContext.git.repoURL'],
    ['inheritSettings false and no source', withSettings, { operation: 'update', inheritSettings: false }, 400, 'sourceContext.git.repoURL'],
    [
      'inheritSettings false and only env vars',
      withSettings,
      { operation: 'update', inheritSettings: false, operationContext: { environmentVariables: { A: 'b' } } },
      400,
      'sourceContext.git.repoURL',
    ],
    ['an executor image', withSettings, { operation: 'update', executorContext: { executorImage: { reference: 'img:1' } } }, 400, 'executorContext.executorImage'],
    ['an agent pool with a bad name', withSettings, { operation: 'update', agentPoolID: '-pool' }, 400, 'agentPoolID'],
    ['operationContext.operation naming another operation', withSettings, { operation: 'update', operationContext: { operation: 'destroy' } }, 400, 'operationContext.operation'],
    ['a ciphertext this server did not make', withSettings, { operation: 'update', operationContext: { environmentVariables: { K: { ciphertext: 'v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } } } }, 400, 'operationContext.environmentVariables.K.ciphertext'],
    [
      'both branch and commit',
      bare,
      { operation: 'update', sourceContext: { git: { repoURL, branch: 'refs/heads/main', commit: 'abc1234' } } },
      400,
      'sourceContext.git.commit',
    ],
    [
      'two git auth methods',
      bare,
      { operation: 'update', sourceContext: { git: { repoURL, gitAuth: { accessToken: SECRET_REJECTED, basicAuth: { userName: 'u', password: SECRET_REJECTED } } } } },
      400,
      'sourceContext.git.gitAuth',
    ],
  ];

  test.each(cases.map(([what, r, body, status, field]) => [what, status, r, body, field] as const))(
    '%s → %i, nothing queued or recorded',
    async (_what, status, r, body, field) => {
    const before = signals.length;
    const countBefore = await deploymentCount(r);
    const settingsBefore = await settingsRow(r);
    const res = await call('POST', deploymentsPath(r), { body });
    if (field) expectBadRequest(res, field);
    else expectError(res, status);
    expect(res.status).toBe(status);
    expect(signals.length).toBe(before);
    expect(await deploymentCount(r)).toBe(countBefore);
    expect(countBefore).toBe(0);
    expect(await settingsRow(r)).toEqual(settingsBefore);
    },
  );

  test('a deployment request without a JSON content type → 415, nothing queued', async () => {
    const before = signals.length;
    const res = await call('POST', deploymentsPath(withSettings), { body: raw('{"operation":"update"}'), contentType: null });
    expectError(res, 415);
    expect(signals.length).toBe(before);
    expect(await deploymentCount(withSettings)).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Drift runs and status

describe('drift runs and status', () => {
  const drifting = ref('drifting', 'drift-org');
  const driftPath = (r: StackRef) => `${base(r)}/drift`;

  beforeAll(async () => {
    expect((await call('PUT', settingsPath(drifting), { body: validSettings })).status).toBe(200);
  });

  test.each([
    ['page=0', 'query.page'],
    ['page=-3', 'query.page'],
    ['page=one', 'query.page'],
    ['page=2.5', 'query.page'],
    ['pageSize=0', 'query.pageSize'],
    ['pageSize=101', 'query.pageSize'],
    ['pageSize=x', 'query.pageSize'],
  ])('runs with %s → 400 naming %s', async (query, field) => {
    expectBadRequest(await call('GET', `${driftPath(drifting)}/runs?${query}`), field);
  });

  test('runs and status of an unknown stack → 404', async () => {
    for (const r of [ref('nobody-home'), ref('dev', 'nobody', 'nothing')]) {
      expectError(await call('GET', `${driftPath(r)}/runs`), 404);
      expectError(await call('GET', `${driftPath(r)}/status`), 404);
    }
  });

  test('a known stack without drift runs has an empty list and no drift', async () => {
    const runs = await call('GET', `${driftPath(drifting)}/runs?page=1&pageSize=100`);
    expect(runs.status).toBe(200);
    expect(runs.body).toEqual({ driftRuns: [], itemsPerPage: 100, total: 0 });
    const defaults = await call('GET', `${driftPath(drifting)}/runs`);
    expect(defaults.body.itemsPerPage).toBe(10);
    const status = await call('GET', `${driftPath(drifting)}/status`);
    expect(status.status).toBe(200);
    expect(status.body).toEqual({ driftDetected: false, latestDriftRun: '', runInProgress: false });
  });

  test('detect-drift and remediate-drift are queued like any operation; a running detection is a run in progress', async () => {
    const before = signals.length;
    for (const operation of ['detect-drift', 'remediate-drift']) {
      const res = await call('POST', deploymentsPath(drifting), { body: { operation, operationContext: { options: { remediateIfDriftDetected: true } } } });
      expect(res.status).toBe(202);
    }
    const sent = signals.slice(before).map((s) => s.options.signalArgs[0]);
    expect(sent.map((d) => d.operation)).toEqual(['detect-drift', 'remediate-drift']);
    // The queue gets the plan the workflow decides on; the settings stay in the deployment's record.
    expect(sent[0].settings).toBeUndefined();
    expect(sent[0].plan.options.remediateIfDriftDetected).toBe(true);

    await store.setStatus(sent[0].id, 'running');
    const runs = await call('GET', `${driftPath(drifting)}/runs`);
    expect(runs.body.total).toBe(2);
    expect(runs.body.driftRuns.map((r: { deploymentVersion: number; status: string }) => [r.deploymentVersion, r.status])).toEqual([
      [sent[1].version, 'not-started'],
      [sent[0].version, 'running'],
    ]);
    expect(runs.body.driftRuns[1]).toEqual({
      id: sent[0].id,
      deploymentId: sent[0].id,
      deploymentVersion: sent[0].version,
      driftDetected: false,
      created: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/),
      status: 'running',
      detectUpdate: { updateId: sent[0].id, resourceChanges: {}, modified: expect.any(String), status: 'running' },
    });
    const status = await call('GET', `${driftPath(drifting)}/status`);
    expect(status.body).toEqual({ driftDetected: false, latestDriftRun: sent[1].id, runInProgress: true });
  });
});

// ---------------------------------------------------------------------------------------------
// Reading deployments and logs

describe('list, get and logs', () => {
  const history = ref('history');
  let id: string;

  beforeAll(async () => {
    expect((await call('PUT', settingsPath(history), { body: validSettings })).status).toBe(200);
    const res = await call('POST', deploymentsPath(history), { body: { operation: 'update' } });
    expect(res.status).toBe(202);
    id = res.body.id;
    await store.setStatus(id, 'running');
    await store.setStep(id, 0, 'running');
    await store.appendLogs(id, 0, [
      { seq: 0, ts: '2024-01-01T00:00:00.000Z', line: 'cloning\n' },
      { seq: 1, ts: '2024-01-01T00:00:01.000Z', line: 'cloned\n' },
    ]);
  });

  test.each([
    ['page=0', 'query.page'],
    ['page=-1', 'query.page'],
    ['page=abc', 'query.page'],
    ['page=1.5', 'query.page'],
    ['page=', 'query.page'],
    ['pageSize=0', 'query.pageSize'],
    ['pageSize=101', 'query.pageSize'],
    ['pageSize=ten', 'query.pageSize'],
    ['asc=yes', 'query.asc'],
    ['asc=1', 'query.asc'],
    ['asc=TRUE', 'query.asc'],
    ['status=done', 'query.status'],
    ['status=', 'query.status'],
    ['status=running,later', 'query.status'],
  ])('list with %s → 400 naming %s', async (query, field) => {
    expectBadRequest(await call('GET', `${deploymentsPath(history)}?${query}`), field);
    expectBadRequest(await call('GET', `/api/orgs/acme/deployments?${query}`), field);
  });

  test('lists filter by status', async () => {
    const running = await call('GET', `${deploymentsPath(history)}?status=running`);
    expect([running.status, running.body.total, running.body.deployments.map((d: { id: string }) => d.id)]).toEqual([200, 1, [id]]);
    const none = await call('GET', `${deploymentsPath(history)}?status=succeeded,failed`);
    expect([none.status, none.body.total, none.body.deployments]).toEqual([200, 0, []]);
  });

  test('the organization list holds every stack with its latestVersion', async () => {
    const res = await call('GET', '/api/orgs/acme/deployments?pageSize=100&status=running');
    expect(res.status).toBe(200);
    expect(res.body.deployments).toEqual([expect.objectContaining({ id, projectName: 'website', stackName: 'history', latestVersion: 1 })]);
    expect([res.body.total, res.body.itemsPerPage]).toEqual([1, 100]);
    expect((await call('GET', '/api/orgs/nobody/deployments')).body).toEqual({ deployments: [], itemsPerPage: 10, total: 0 });
    expectBadRequest(await call('GET', '/api/orgs/-acme/deployments'), 'org');
  });

  test.each([['abc'], ['1.5'], ['0'], ['-1'], ['99999999999']])('version %s → 400 naming version', async (v) => {
    expectBadRequest(await call('GET', `${deploymentsPath(history)}/version/${v}`), 'version');
  });

  test('a deployment is read by its version', async () => {
    const res = await call('GET', `${deploymentsPath(history)}/version/1`);
    expect([res.status, res.body.id, res.body.version, res.body.latestVersion]).toEqual([200, id, 1, 1]);
    expectError(await call('GET', `${deploymentsPath(history)}/version/2`), 404);
    expectError(await call('GET', `${deploymentsPath(ref('other'))}/version/1`), 404);
  });

  test('list with good paging works', async () => {
    const res = await call('GET', `${deploymentsPath(history)}?page=1&pageSize=100&asc=true`);
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(1);
    expect(res.body.itemsPerPage).toBe(100);
    expect(res.body.deployments.map((d: { id: string }) => d.id)).toEqual([id]);
    const far = await call('GET', `${deploymentsPath(history)}?page=1000000000000`);
    expect(far.status).toBe(200);
    expect(far.body.deployments).toEqual([]);
  });

  test('list for an unknown stack → 404', async () => {
    expectError(await call('GET', deploymentsPath(ref('nobody-home'))), 404);
    expectError(await call('GET', deploymentsPath(ref('dev', 'nobody', 'nothing'))), 404);
  });

  test.each([
    ['continuationToken=abc', 'query.continuationToken'],
    ['continuationToken=', 'query.continuationToken'],
    ['continuationToken=1.0.0', 'query.continuationToken'],
    ['continuationToken=0.0', 'query.continuationToken'],
    ['continuationToken=0.-1.0', 'query.continuationToken'],
    ['continuationToken=0.0.0.0', 'query.continuationToken'],
    ['continuationToken=0.x.1', 'query.continuationToken'],
    ['continuationToken=0.99.0', 'query.continuationToken'],
    ['continuationToken=0.0.99999999999999999999999', 'query.continuationToken'],
    ['step=99', 'query.step'],
    ['step=4', 'query.step'],
    ['step=-1', 'query.step'],
    ['step=one', 'query.step'],
    ['step=0&offset=-1', 'query.offset'],
    ['count=0', 'query.count'],
    ['count=500', 'query.count'],
    ['count=1e9', 'query.count'],
    ['job=1', 'query.job'],
  ])('logs with %s → 400 naming %s', async (query, field) => {
    expectBadRequest(await call('GET', `${deploymentsPath(history)}/${id}/logs?${query}`), field);
  });

  test('good log reads work', async () => {
    const stream = await call('GET', `${deploymentsPath(history)}/${id}/logs`);
    expect(stream.status).toBe(200);
    expect(stream.body.lines).toEqual([
      { header: 'Get source', timestamp: '0001-01-01T00:00:00Z' },
      { timestamp: '2024-01-01T00:00:00.000Z', line: 'cloning\n' },
      { timestamp: '2024-01-01T00:00:01.000Z', line: 'cloned\n' },
    ]);
    expect(stream.body.nextToken).toBe('0.0.3');
    const step = await call('GET', `${deploymentsPath(history)}/${id}/logs?step=0&offset=1&count=10`);
    expect(step.body).toEqual({ __type: 'DeploymentLogsStep', name: 'Get source', lines: [{ timestamp: '2024-01-01T00:00:01.000Z', line: 'cloned\n' }], nextOffset: 2 });
    const last = await call('GET', `${deploymentsPath(history)}/${id}/logs?step=3&job=0`);
    expect(last.body).toEqual({ __type: 'DeploymentLogsStep', name: 'Pulumi operation', lines: [], nextOffset: 0 });
    const end = await call('GET', `${deploymentsPath(history)}/${id}/logs?continuationToken=0.4.0`);
    expect(end.body).toEqual({ __type: 'DeploymentLogs', lines: [], nextToken: '0.4.0' });
  });

  test.each([
    [{ 'Last-Event-ID': 'abc' }, '', 'header.Last-Event-ID'],
    [{ 'Last-Event-ID': '0.99.0' }, '', 'header.Last-Event-ID'],
    [{}, '?continuationToken=0.99.0', 'query.continuationToken'],
    [{}, '?step=0', 'query.step'],
  ])('an event stream with %j%s → 400 naming %s', async (headers, query, field) => {
    const res = await call('GET', `${deploymentsPath(history)}/${id}/logs${query}`, { headers: { Accept: 'text/event-stream', ...headers } });
    expectBadRequest(res, field);
  });

  test.each([
    ['an unknown id', () => '00000000-0000-0000-0000-000000000000'],
    ['a non-uuid id', () => 'not-a-deployment'],
    ['a very long id', () => 'x'.repeat(2000)],
  ])('get and logs of %s → 404', async (_what, makeId) => {
    expectError(await call('GET', `${deploymentsPath(history)}/${makeId()}`), 404);
    expectError(await call('GET', `${deploymentsPath(history)}/${makeId()}/logs`), 404);
  });

  test("another stack's deployment id → 404", async () => {
    expectError(await call('GET', `${deploymentsPath(ref('other'))}/${id}`), 404);
    expectError(await call('GET', `${deploymentsPath(ref('history', 'acme', 'other'))}/${id}/logs`), 404);
  });

  test('unknown routes and methods → 404 JSON', async () => {
    expectError(await call('GET', '/api/nothing'), 404);
    expectError(await call('PATCH', settingsPath(history), { body: {} }), 404);
    expectError(await call('GET', '/nothing', { token: null }), 404);
  });
});

// ---------------------------------------------------------------------------------------------
// Following logs as Server-Sent Events (the app polls every 20 ms, keeps alive after 150 ms)

describe('log event stream', () => {
  const r = ref('follow');
  let id: string;
  const line = (seq: number) => ({ seq, ts: `2024-01-01T00:00:0${seq}.000Z`, line: `line ${seq}\n` });
  const follow = async (lastEventId?: string) => {
    const headers: Record<string, string> = { Authorization: `token ${TOKEN}`, Accept: 'text/event-stream' };
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    const res = await app.request(`${deploymentsPath(r)}/${id}/logs`, { headers });
    expect([res.status, res.headers.get('Content-Type')]).toEqual([200, 'text/event-stream']);
    return new EventReader(res);
  };

  beforeAll(async () => {
    const d = await store.createDeployment(r, { operation: 'update', settings: {}, inheritSettings: false, initiator: 'api', requestedBy: 't', steps: ['A', 'B'] });
    id = d.id;
  });

  test('follows a running deployment, keeps the connection alive, resumes from Last-Event-ID and ends', async () => {
    await store.setStatus(id, 'running');
    await store.setStep(id, 0, 'running');
    await store.appendLogs(id, 0, [line(0), line(1)]);

    const first = await follow();
    const got = await first.readUntil((e) => e.data?.includes('line 1') ?? false);
    expect(got.map((e) => [e.event, e.id])).toEqual([['header', '0.0.1'], ['line', '0.0.2'], ['line', '0.0.3']]);
    expect(linesOf(got)[0]).toEqual({ header: 'A', timestamp: '0001-01-01T00:00:00Z' });
    // Nothing new for a while: a comment keeps the connection open.
    expect((await first.next())?.comment).toBe('keep-alive');
    await store.appendLogs(id, 0, [line(2)]);
    expect(await first.next()).toEqual({ event: 'line', id: '0.0.4', data: JSON.stringify({ timestamp: line(2).ts, line: 'line 2\n' }) });

    // The client goes away; the server stops reading for it.
    const reads = jest.spyOn(store, 'getDeploymentById');
    await first.close();
    await new Promise((res) => setTimeout(res, 100));
    const after = reads.mock.calls.length;
    await new Promise((res) => setTimeout(res, 200));
    expect(reads.mock.calls.length).toBe(after);
    reads.mockRestore();

    await store.appendLogs(id, 0, [line(3)]);
    await store.setStep(id, 0, 'succeeded');
    await store.setStep(id, 1, 'running');
    await store.appendLogs(id, 1, [line(0)]);
    await store.setStep(id, 1, 'succeeded');
    await store.finishDeployment(id, 'succeeded');

    const second = await follow('0.0.4');
    const rest = await second.readUntil(() => false);
    expect(rest.map((e) => [e.event, e.id])).toEqual([['line', '0.0.5'], ['header', '0.1.1'], ['line', '0.1.2'], ['end', undefined]]);
    expect(JSON.parse(rest[3].data!)).toEqual({ status: 'succeeded' });
    // The stream holds exactly what JSON mode returns.
    const json = await call('GET', `${deploymentsPath(r)}/${id}/logs`);
    expect([...linesOf(got), { timestamp: line(2).ts, line: 'line 2\n' }, ...linesOf(rest)]).toEqual(json.body.lines);
    expect(json.body.nextToken).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Auth and body size

describe('queue routes', () => {
  const pauses = async () => (await store.db.selectFrom('deployment_pauses').selectAll().execute()).length;

  test.each([
    ['POST', 'pause'],
    ['POST', 'resume'],
    ['GET', 'metadata'],
  ])('%s /api/orgs/{bad}/deployments/%s → 400 naming org, nothing stored', async (method, action) => {
    const before = await pauses();
    for (const org of ['my%20org', '-acme', 'a'.repeat(41), '..%2F..']) expectBadRequest(await call(method, `/api/orgs/${org}/deployments/${action}`), 'org');
    expect(await pauses()).toBe(before);
  });

  test('pausing a stack without settings → 404, nothing stored', async () => {
    const before = await pauses();
    const res = await call('POST', `${deploymentsPath(ref('never-configured'))}/pause`);
    expect(res.status).toBe(404);
    expect(res.body.message).toBe('this stack has no deployment settings');
    expect(await pauses()).toBe(before);
  });

  test('pause, resume and metadata for a stack and its organization', async () => {
    const r = ref('pausable', 'pause-org');
    expect((await call('PUT', settingsPath(r), { body: validSettings })).status).toBe(200);
    expect((await call('POST', `${deploymentsPath(r)}/pause`)).body).toEqual({ paused: true, stackPaused: true, organizationPaused: false, hasSchedules: false });
    expect((await call('POST', `${deploymentsPath(r)}/pause`)).status).toBe(200); // idempotent
    expect((await call('POST', '/api/orgs/pause-org/deployments/pause')).body).toEqual({
      paused: true,
      pausedStacks: ['website/pausable'],
      concurrency: 0,
      deploymentCounts: { notStarted: 0, accepted: 0, running: 0, failed: 0, succeeded: 0, skipped: 0, total: 0 },
    });
    expect((await call('GET', `${deploymentsPath(r)}/metadata`)).body).toEqual({ paused: true, stackPaused: true, organizationPaused: true, hasSchedules: false });
    // No queue workflow is running for the stack: resuming still succeeds.
    expect((await call('POST', `${deploymentsPath(r)}/resume`)).body).toEqual({ paused: true, stackPaused: false, organizationPaused: true, hasSchedules: false });
    expect((await call('POST', '/api/orgs/pause-org/deployments/resume')).status).toBe(200);
    expect((await call('GET', '/api/orgs/pause-org/deployments/metadata')).body).toMatchObject({ paused: false, pausedStacks: [] });
  });

  test('cancel: unknown id → 404, finished → 409, queued → signal to the stack queue, or skipped when no queue runs', async () => {
    const r = ref('cancellable');
    const path = deploymentsPath(r);
    expect((await call('POST', `${path}/00000000-0000-0000-0000-000000000000/cancel`)).status).toBe(404);
    const steps = ['Get source', 'Pulumi operation'];
    const mk = () => store.createDeployment(r, { operation: 'update', settings: {}, inheritSettings: false, initiator: 'api', requestedBy: 't', steps });
    const done = await mk();
    await store.finishDeployment(done.id, 'succeeded');
    const finished = await call('POST', `${path}/${done.id}/cancel`);
    expect(finished.status).toBe(409);
    expect(finished.body.message).toBe('the deployment already ended (succeeded)');

    const queued = await mk();
    const queueId = `stack/${r.org}/${r.project}/${r.stack}`;
    runningQueues.add(queueId);
    expect((await call('POST', `${path}/${queued.id}/cancel`)).body).toEqual({ id: queued.id, version: queued.version, cancelRequested: true });
    expect(handleSignals.at(-1)).toEqual({ workflowId: queueId, signal: 'cancel', args: [queued.id] });
    expect((await store.getDeploymentById(queued.id))?.status).toBe('not-started');

    runningQueues.delete(queueId);
    expect((await call('POST', `${path}/${queued.id}/cancel`)).status).toBe(200);
    expect(await store.getDeploymentById(queued.id)).toMatchObject({ status: 'skipped', message: 'Cancelled before it started.' });
  });
});

describe('auth', () => {
  const r = ref('auth');
  const endpoints: [string, string, unknown][] = [
    ['GET', settingsPath(r), undefined],
    ['POST', settingsPath(r), validSettings],
    ['PUT', settingsPath(r), validSettings],
    ['DELETE', settingsPath(r), undefined],
    ['POST', deploymentsPath(r), { operation: 'update', ...validSettings }],
    ['GET', deploymentsPath(r), undefined],
    ['GET', `${deploymentsPath(r)}/x`, undefined],
    ['GET', `${deploymentsPath(r)}/x/logs`, undefined],
    ['POST', `${deploymentsPath(r)}/x/cancel`, undefined],
    ['POST', `${deploymentsPath(r)}/pause`, undefined],
    ['POST', `${deploymentsPath(r)}/resume`, undefined],
    ['GET', `${deploymentsPath(r)}/metadata`, undefined],
    ['POST', '/api/orgs/acme/deployments/pause', undefined],
    ['POST', '/api/orgs/acme/deployments/resume', undefined],
    ['GET', '/api/orgs/acme/deployments/metadata', undefined],
    ['GET', `${deploymentsPath(r)}/version/1`, undefined],
    ['GET', '/api/orgs/acme/deployments', undefined],
    ['GET', '/api/nothing', undefined],
  ];

  test.each(endpoints)('%s %s without a token → 401, with a wrong one → 401', async (method, path, body) => {
    const before = signals.length;
    expect((await call(method, path, { body, token: null })).status).toBe(401);
    expect((await call(method, path, { body, token: 'wrong-token-wrong-token' })).status).toBe(401);
    expect((await call(method, path, { body, token: TOKEN.slice(0, -1) })).status).toBe(401);
    expect((await call(method, path, { body, token: `${TOKEN}x` })).status).toBe(401);
    expect(signals.length).toBe(before);
    expect(await settingsRow(r)).toBeUndefined();
    expect(await deploymentCount(r)).toBe(0);
  });

  test('a token under another scheme is refused', async () => {
    const res = await call('GET', settingsPath(r), { token: null, headers: { Authorization: `Bearer ${TOKEN}` } });
    expect([400, 401]).toContain(res.status);
  });

  test('/healthz needs no token', async () => {
    const res = await call('GET', '/healthz', { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });
});

describe('body size', () => {
  const r = ref('big');
  const MiB = 1024 * 1024;

  beforeAll(async () => {
    expect((await call('PUT', settingsPath(r), { body: validSettings })).status).toBe(200);
  });

  test('a body over 1 MiB → 413 and nothing changes', async () => {
    const rowBefore = await settingsRow(r);
    const big = { ...validSettings, tag: 'x'.repeat(MiB) };
    for (const method of ['POST', 'PUT']) expectError(await call(method, settingsPath(r), { body: big }), 413);
    expectError(await call('POST', deploymentsPath(r), { body: { operation: 'update', tag: 'x'.repeat(MiB) } }), 413);
    expect(await settingsRow(r)).toEqual(rowBefore);
    expect(await deploymentCount(r)).toBe(0);
  });

  test('a streamed body over 1 MiB (no Content-Length) → 413', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent > MiB + chunk.length) return ctl.close();
        sent += chunk.length;
        ctl.enqueue(chunk);
      },
    });
    // Bypasses `call` (a stream body); asserts its status directly.
    const res = await app.request(settingsPath(r), {
      method: 'PUT',
      headers: { Authorization: `token ${TOKEN}`, 'Content-Type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  test('a body of exactly 1 MiB is accepted', async () => {
    const json = JSON.stringify({ tag: 'exact' });
    const res = await call('POST', settingsPath(r), { body: raw(json + ' '.repeat(MiB - json.length)) });
    expect(res.status).toBe(200);
    expect(res.body.tag).toBe('exact');
  });
});

// ---------------------------------------------------------------------------------------------
// What valid requests do

describe('settings that are accepted', () => {
  const r = ref('merge');

  test("POST merges by Pulumi's rules, PUT replaces, DELETE removes", async () => {
    const put = await call('PUT', settingsPath(r), {
      body: {
        sourceContext: { git: { repoURL: 'https://git.example.com/old.git', branch: 'refs/heads/main', repoDir: 'infra' } },
        operationContext: {
          preRunCommands: ['one', 'two'],
          environmentVariables: { A: '1', B: '2', C: '3' },
          options: { skipInstallDependencies: true },
        },
        vcs: { provider: 'github', repository: 'acme/old', deployCommits: true, paths: ['infra/**'] },
      },
    });
    expect(put.status).toBe(200);
    expect(put.body.version).toBe(1);

    const post = await call('POST', settingsPath(r), {
      body: {
        sourceContext: { git: { repoUrl: 'https://git.example.com/new.git' } },
        operationContext: { preRunCommands: ['three'], environmentVariables: { B: null, D: '4' }, options: null },
        vcs: { provider: 'gitlab', repository: 'acme/new' },
        tag: 'blue',
      },
    });
    expect(post.status).toBe(200);
    const expected = {
      sourceContext: { git: { repoURL: 'https://git.example.com/new.git', branch: 'refs/heads/main', repoDir: 'infra' } },
      operationContext: { preRunCommands: ['three'], environmentVariables: { A: '1', C: '3', D: '4' } },
      vcs: { provider: 'gitlab', repository: 'acme/new' },
      tag: 'blue',
      version: 2,
    };
    expect(post.body).toEqual(expected);
    const got = await call('GET', settingsPath(r));
    expect(got.body).toEqual(expected);
    expect(got.text).not.toContain('repoUrl');

    // A GET echoed back (with its read-only version) is a valid PUT; nulls in a PUT are dropped.
    // Pulumi's other spelling of the agent pool is read; a name that cannot be a pool's is refused.
    expectBadRequest(await call('PUT', settingsPath(r), { body: { ...got.body, agentPoolId: 'pool/1' } }), 'agentPoolID');
    const echo = await call('PUT', settingsPath(r), { body: { ...got.body, tag: null, agentPoolId: null } });
    expect(echo.status).toBe(200);
    const { tag: _tag, ...rest } = expected;
    expect(echo.body).toEqual({ ...rest, version: 3 });

    const replaced = await call('PUT', settingsPath(r), { body: { sourceContext: { git: { repoURL: 'https://git.example.com/x.git' } } } });
    expect(replaced.body).toEqual({ sourceContext: { git: { repoURL: 'https://git.example.com/x.git' } }, version: 4 });
    expect((await call('GET', settingsPath(r))).body).toEqual(replaced.body);

    const del = await call('DELETE', settingsPath(r));
    expect(del.status).toBe(200);
    expect(del.body).toBe(true);
    expect(del.text).toBe('true');
    expectError(await call('GET', settingsPath(r)), 404);
    expectError(await call('DELETE', settingsPath(r)), 404);

    // A first POST creates, with nulls dropped.
    const created = await call('POST', settingsPath(r), { body: { sourceContext: { git: { repoURL: 'https://x', branch: null } }, tag: null } });
    expect(created.body).toEqual({ sourceContext: { git: { repoURL: 'https://x' } }, version: 1 });
  });

  test('secrets are sealed and never come back in the clear', async () => {
    const s = ref('secrets');
    const res = await call('PUT', settingsPath(s), {
      body: {
        sourceContext: { git: { repoURL: 'https://git.example.com/acme/website.git', gitAuth: { accessToken: SECRET_TOKEN } } },
        operationContext: {
          environmentVariables: {
            API_KEY: { secret: SECRET },
            HIDDEN: { isSecret: true, value: SECRET_HIDDEN },
            SHOWN: { isSecret: false, value: 'shown' },
            PLAIN: 'plain',
          },
        },
      },
    });
    expect(res.status).toBe(200);
    const sealed = { ciphertext: expect.stringMatching(/^v1:/) };
    const env = res.body.operationContext.environmentVariables;
    expect(env).toEqual({ API_KEY: sealed, HIDDEN: sealed, SHOWN: 'shown', PLAIN: 'plain' });
    expect(res.body.sourceContext.git.gitAuth).toEqual({ accessToken: sealed });
    expect(box.decrypt(env.API_KEY.ciphertext)).toBe(SECRET);
    expect(box.decrypt(env.HIDDEN.ciphertext)).toBe(SECRET_HIDDEN);
    expect(box.decrypt(res.body.sourceContext.git.gitAuth.accessToken.ciphertext)).toBe(SECRET_TOKEN);

    const row = await settingsRow(s);
    for (const secret of SECRETS) expect(row!.settings).not.toContain(secret);

    // Echoing the sealed values back keeps them as they are; a merge of other keys too.
    const got = await call('GET', settingsPath(s));
    const again = await call('PUT', settingsPath(s), { body: got.body });
    expect(again.body).toEqual({ ...got.body, version: 2 });
    const merged = await call('POST', settingsPath(s), { body: { operationContext: { environmentVariables: { PLAIN: 'changed' } } } });
    expect(merged.body.operationContext.environmentVariables).toEqual({ ...got.body.operationContext.environmentVariables, PLAIN: 'changed' });

    // A secret may replace a plain value and the other way round.
    const swapped = await call('POST', settingsPath(s), {
      body: { operationContext: { environmentVariables: { PLAIN: { secret: SECRET }, API_KEY: 'now-plain' } } },
    });
    expect(swapped.body.operationContext.environmentVariables.PLAIN).toEqual(sealed);
    expect(swapped.body.operationContext.environmentVariables.API_KEY).toBe('now-plain');
  });

  test("Pulumi CLI's wire shapes: empty strings and nulls are not set, a commit replaces the stored branch", async () => {
    const s = ref('cli-shapes');
    expect((await call('PUT', settingsPath(s), { body: validSettings })).status).toBe(200);
    // As `pulumi deployment run update --git-commit abc1234 --env A=1 --env-secret B=2` sends it (v3.248.0).
    const res = await call('POST', deploymentsPath(s), {
      body: {
        operation: 'update',
        inheritSettings: true,
        executorContext: { workingDirectory: '' },
        sourceContext: { git: { repoUrl: '', branch: '', commit: 'abc1234' } },
        operationContext: { preRunCommands: [], operation: '', environmentVariables: { A: '1', B: { secret: SECRET_OVERRIDE } } },
        agentPoolID: null,
      },
      headers: { 'X-Pulumi-Deployment-Initiator': 'automation-api', Accept: 'application/vnd.pulumi+8' },
    });
    expect(res.status).toBe(202);
    const input = signals[signals.length - 1].options.signalArgs[0];
    expect(input.settings).toBeUndefined();
    input.settings = (await store.getDeploymentById(input.id))!.settings;
    expect(input.settings.sourceContext.git).toEqual({ repoURL: validSettings.sourceContext.git.repoURL, commit: 'abc1234', repoDir: 'infra' });
    expect(input.settings.operationContext.preRunCommands).toEqual(['npm run build']);
    expect(input.settings.operationContext.operation).toBeUndefined();
    expect(input.settings.executorContext).toEqual({});
    expect(box.decrypt(input.settings.operationContext.environmentVariables.B.ciphertext)).toBe(SECRET_OVERRIDE);
    expect(input.settings.operationContext.environmentVariables.A).toBe('1');

    // `settings edit --secret-env` encrypts with a bare JSON string, then patches with the ciphertext.
    const enc = await call('POST', `${settingsPath(s)}/encrypt`, { body: SECRET_OVERRIDE });
    expect(enc.status).toBe(200);
    expect(Object.keys(enc.body)).toEqual(['ciphertext']);
    expect(enc.text).not.toContain(SECRET_OVERRIDE);
    expectBadRequest(await call('POST', `${settingsPath(s)}/encrypt`, { body: '' }), '(body)');
    const patched = await call('POST', settingsPath(s), { body: { operationContext: { environmentVariables: { C: { ciphertext: enc.body.ciphertext } } } } });
    expect(patched.status).toBe(200);
    expect(box.decrypt(patched.body.operationContext.environmentVariables.C.ciphertext)).toBe(SECRET_OVERRIDE);

    // `settings push` sends the whole Go struct back: empty strings, an empty operation, null lists.
    const pushed = await call('PUT', settingsPath(s), {
      body: {
        executorContext: { workingDirectory: '' },
        sourceContext: { git: { repoUrl: 'https://git.example.com/acme/website.git', branch: 'refs/heads/main' } },
        operationContext: { preRunCommands: null, operation: '', environmentVariables: null, options: { skipInstallDependencies: false, skipIntermediateDeployments: false, shell: '', deleteAfterDestroy: false, remediateIfDriftDetected: false } },
      },
    });
    expect(pushed.status).toBe(200);
    expect(pushed.body).toEqual({
      executorContext: {},
      sourceContext: { git: { repoURL: 'https://git.example.com/acme/website.git', branch: 'refs/heads/main' } },
      operationContext: { options: { skipInstallDependencies: false, skipIntermediateDeployments: false, deleteAfterDestroy: false, remediateIfDriftDetected: false } },
      version: 3,
    });
  });

  test('a valid deployment request is recorded and queued once, sealed', async () => {
    const s = ref('shipit');
    expect((await call('PUT', settingsPath(s), { body: validSettings })).status).toBe(200);
    const before = signals.length;

    const res = await call('POST', deploymentsPath(s), {
      body: { operation: 'update', operationContext: { environmentVariables: { EXTRA: { secret: SECRET_OVERRIDE } } } },
      headers: { 'X-Pulumi-Deployment-Initiator': 'cli' },
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), version: 1, consoleUrl: expect.any(String) });
    expect(res.body.consoleUrl).toBe(`http://stackwright.test${deploymentsPath(s)}/${res.body.id}`);

    expect(signals.length).toBe(before + 1);
    const { workflowType, options } = signals[signals.length - 1];
    expect(workflowType).toBe('stackQueue');
    expect(options.workflowId).toBe('stack/acme/website/shipit');
    expect(options.taskQueue).toBe('api-validation-test');
    expect(options.args).toEqual([{ stack: s }]);
    expect(options.signalArgs).toHaveLength(1);
    const input = options.signalArgs[0];
    expect(input).toEqual(expect.objectContaining({ ...s, id: res.body.id, version: 1, operation: 'update' }));
    const wire = JSON.stringify(options.signalArgs);
    for (const secret of SECRETS) expect(wire).not.toContain(secret);
    // Workflow inputs carry ids, operation and plan; the sealed settings are in the record.
    expect(input.settings).toBeUndefined();
    expect(input.plan).toEqual({ options: expect.any(Object), preRunCommands: expect.any(Number) });
    const env = (await store.getDeploymentById(input.id))!.settings.operationContext!.environmentVariables as any;
    expect(box.decrypt(env.API_KEY.ciphertext)).toBe(SECRET);
    expect(box.decrypt(env.EXTRA.ciphertext)).toBe(SECRET_OVERRIDE);
    expect(env.AWS_REGION).toBe('eu-west-1');

    // The overrides apply to this deployment only.
    expect((await call('GET', settingsPath(s))).body.operationContext.environmentVariables.EXTRA).toBeUndefined();

    const d = await call('GET', `${deploymentsPath(s)}/${res.body.id}`);
    expect(d.status).toBe(200);
    expect(d.body).toEqual(
      expect.objectContaining({ id: res.body.id, version: 1, latestVersion: 1, status: 'not-started', pulumiOperation: 'update', initiator: 'cli' }),
    );
    expect(d.body.jobs[0].steps.map((x: { name: string }) => x.name)).toEqual([
      'Get source',
      'Install dependencies',
      'Pre-run command 1',
      'Pulumi operation',
    ]);
    expect(d.body.configuration.environmentVariables).toEqual(
      expect.arrayContaining([
        { name: 'API_KEY', secret: true },
        { name: 'EXTRA', secret: true },
        { name: 'AWS_REGION', value: 'eu-west-1', secret: false },
      ]),
    );

    // A second request gets the next version; inheritSettings false with a full source works.
    const second = await call('POST', deploymentsPath(s), {
      body: { operation: 'preview', inheritSettings: false, sourceContext: { git: { repoUrl: 'https://git.example.com/other.git', commit: 'ABCDEF0' } } },
    });
    expect(second.status).toBe(202);
    expect(second.body.version).toBe(2);
    expect(signals.length).toBe(before + 2);
    const secondInput = signals[signals.length - 1].options.signalArgs[0];
    expect((await store.getDeploymentById(secondInput.id))!.settings).toEqual({ sourceContext: { git: { repoURL: 'https://git.example.com/other.git', commit: 'ABCDEF0' } } });
    expect(await deploymentCount(s)).toBe(2);

    // Without stored settings, a request carrying a source is enough.
    const fresh = await call('POST', deploymentsPath(ref('fresh')), {
      body: { operation: 'refresh', sourceContext: { git: { repoURL: 'https://git.example.com/x.git', branch: null } } },
    });
    expect(fresh.status).toBe(202);
    expect(signals[signals.length - 1].options.workflowId).toBe('stack/acme/website/fresh');
  });

  test('when Temporal cannot be reached → 503, the deployment is failed and its log stream ends', async () => {
    const s = ref('no-temporal');
    expect((await call('PUT', settingsPath(s), { body: validSettings })).status).toBe(200);
    signalFailure = new Error('connection refused');
    let res: Res;
    try {
      res = await call('POST', deploymentsPath(s), { body: { operation: 'update' } });
    } finally {
      signalFailure = undefined;
    }
    expectError(res, 503);
    const list = await call('GET', deploymentsPath(s));
    expect(list.body.total).toBe(1);
    const d = list.body.deployments[0];
    expect(d.status).toBe('failed');
    const logs = await call('GET', `${deploymentsPath(s)}/${d.id}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.body.nextToken).toBeUndefined();
  });
});

describe('Idempotency-Key', () => {
  const post = (s: StackRef, body: unknown, key?: string) => call('POST', deploymentsPath(s), { body, headers: key === undefined ? {} : { 'Idempotency-Key': key } });

  test('the same key and body answer the same deployment, queued once; another body with the key is 422', async () => {
    const s = ref('idempotent');
    expect((await call('PUT', settingsPath(s), { body: validSettings })).status).toBe(200);
    const before = signals.length;
    const first = await post(s, { operation: 'update', operationContext: { environmentVariables: { A: 'x', B: 'y' } } }, 'req-1');
    expect(first.status).toBe(202);
    expect(first.headers.get('Idempotent-Replayed')).toBeNull();
    // The same request (its JSON keys in another order) sent again.
    const again = await post(s, { operationContext: { environmentVariables: { B: 'y', A: 'x' } }, operation: 'update' }, 'req-1');
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('Idempotent-Replayed')).toBe('true');
    // It has not started: queued again, which the queue ignores (it holds the deployment already).
    expect(signals.slice(before).map((x) => x.options.signalArgs[0].id)).toEqual([first.body.id, first.body.id]);

    const other = await post(s, { operation: 'destroy' }, 'req-1');
    expectError(other, 422);
    expect(other.body.message).toContain("Idempotency-Key 'req-1' was already used for a different request");
    // Without a key, or with another, it is a new deployment.
    expect((await post(s, { operation: 'update' })).body.version).toBe(2);
    expect((await post(s, { operation: 'update' }, 'req-2')).body.version).toBe(3);
    expect((await call('GET', deploymentsPath(s))).body.total).toBe(3);
  });

  test('a key that is not 1 to 255 printable characters is a 400 naming the header', async () => {
    const s = ref('idempotent-bad');
    expect((await call('PUT', settingsPath(s), { body: validSettings })).status).toBe(200);
    expectBadRequest(await post(s, { operation: 'update' }, 'has space'), 'header.Idempotency-Key');
    expectBadRequest(await post(s, { operation: 'update' }, 'x'.repeat(256)), 'header.Idempotency-Key');
    expect((await call('GET', deploymentsPath(s))).body.total).toBe(0);
  });

  test('after a 503 nothing runs, and a retry with the same key queues a new deployment', async () => {
    const s = ref('idempotent-503');
    expect((await call('PUT', settingsPath(s), { body: validSettings })).status).toBe(200);
    signalFailure = new Error('connection refused');
    let res: Res;
    try {
      res = await post(s, { operation: 'update' }, 'req-503');
    } finally {
      signalFailure = undefined;
    }
    expectError(res, 503);
    expect(res.body.message).toContain('nothing was queued and nothing will run');
    const retry = await post(s, { operation: 'update' }, 'req-503');
    expect(retry.status).toBe(202);
    expect(retry.headers.get('Idempotent-Replayed')).toBeNull();
    const list = (await call('GET', deploymentsPath(s))).body.deployments.map((d: any) => [d.version, d.status]);
    expect(list).toEqual([
      [2, 'not-started'],
      [1, 'failed'],
    ]);
  });
});

describe('webhooks without a configured secret', () => {
  test.each([
    ['/api/webhooks/github', 'STACKWRIGHT_GITHUB_WEBHOOK_SECRET'],
    ['/api/webhooks/gitlab', 'STACKWRIGHT_GITLAB_WEBHOOK_TOKEN'],
    ['/api/webhooks/generic-vcs', 'STACKWRIGHT_GENERIC_VCS_SECRET'],
    ['/workflow/generic-vcs', 'STACKWRIGHT_GENERIC_VCS_SECRET'],
  ])('%s refuses every request and starts nothing', async (path, setting) => {
    const before = signals.length;
    for (const token of [null, undefined]) {
      const res = await call('POST', path, { token, body: { event: 'push' }, headers: { 'X-Gitlab-Token': '', 'X-Hub-Signature-256': 'sha256=00' } });
      expect(res.status).toBe(403);
      expect(res.body.message).toContain(setting);
    }
    expect(signals.length).toBe(before);
  });
});
