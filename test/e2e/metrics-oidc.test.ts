import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { newOutDir, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { startHookReceiver, type HookReceiver } from '../helpers/hook-receiver';

// Metrics and OIDC tokens through the real API, Temporal, git, sandbox and pulumi: the program of
// the deployment records what it found (the variables and files cloud SDKs read), the test checks
// the token against the JWKS the server publishes, and the metrics count what happened.
const org = `oidc${Date.now().toString(36)}`;
const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;
const METRICS_TOKEN = 'scrape-token-0123456789abcdef';

// Run by the Pulumi program in the sandbox: what an AWS, Azure or Google SDK would find.
const OIDC_SEEN = `import * as fs from 'fs';
const seenFile = process.env.OIDC_SEEN_FILE;
if (seenFile) {
  const read = (f?: string) => (f ? fs.readFileSync(f, 'utf8') : undefined);
  const token = read(process.env.AWS_WEB_IDENTITY_TOKEN_FILE);
  const names = Object.keys(process.env).filter((n) => /^(AWS_|AZURE_|ARM_|GOOGLE_|CLOUDSDK_|PULUMI_DEPLOY_OIDC)/.test(n) && n !== 'ARM_OIDC_TOKEN');
  const gcp = read(process.env.GOOGLE_APPLICATION_CREDENTIALS);
  fs.writeFileSync(seenFile, JSON.stringify({
    env: Object.fromEntries(names.map((n) => [n, process.env[n]])),
    token,
    armTokenIsTheFile: process.env.ARM_OIDC_TOKEN === token,
    azureTokenFile: read(process.env.AZURE_FEDERATED_TOKEN_FILE) === token,
    gcpCredentials: gcp ? JSON.parse(gcp) : null,
    gcpSourceIsTheFile: gcp ? read(JSON.parse(gcp).credential_source.file) === token : false,
    databaseVisible: fs.existsSync(process.env.DATABASE_PROBE ?? '/nonexistent'),
  }));
  console.log('the deployment token is ' + token);
}
`;

let sw: Stackwright;
let repo: TestRepo;
let rx: HookReceiver;

beforeAll(async () => {
  [sw, rx] = await Promise.all([
    startStackwright({ STACKWRIGHT_METRICS_TOKEN: METRICS_TOKEN, STACKWRIGHT_WEBHOOK_ALLOW_PRIVATE: 'true', STACKWRIGHT_OIDC_TOKEN_SECONDS: '900' }),
    startHookReceiver(),
  ]);
  repo = createProgramRepo('website');
  const index = readFileSync(join(__dirname, '..', 'fixtures', 'program', 'index.ts'), 'utf8');
  repo.commit({ 'oidc-seen.ts': OIDC_SEEN, 'index.ts': `${index}\nimport './oidc-seen';\n` });
});
afterAll(async () => {
  await sw?.stop();
  await rx?.close();
});

const oidc = {
  aws: { roleArn: 'arn:aws:iam::123456789012:role/stackwright-deploy', sessionName: 'stackwright-deploy' },
  azure: { clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', subscriptionId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' },
  gcp: { projectId: '123456789012', workloadPoolId: 'stackwright-pool', providerId: 'stackwright', serviceAccount: 'deploy@acme-prod.iam.gserviceaccount.com' },
};

const scrape = async (token: string | null = METRICS_TOKEN) => {
  const res = await fetch(`${sw.url}/metrics`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, text: await res.text() };
};
/** The value of one sample, e.g. sample(text, 'stackwright_deployments', {operation: 'update', status: 'succeeded'}). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v) && Object.keys(have).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

test('settings with a malformed OIDC block are refused naming the field', async () => {
  const bad = await sw.api(`${stackPath('bad')}/deployments/settings`, {
    method: 'POST',
    body: { operationContext: { oidc: { aws: { roleArn: 'my-role', sessionName: 'x y' }, gcp: { ...oidc.gcp, projectId: 'acme-prod' } } } },
  });
  expect(bad.status).toBe(400);
  expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
    'operationContext.oidc.aws.roleArn',
    'operationContext.oidc.aws.sessionName',
    'operationContext.oidc.gcp.projectId',
  ]);
  const unhonoured = await sw.api(`${stackPath('bad')}/deployments/settings`, {
    method: 'POST',
    body: { operationContext: { oidc: { aws: { ...oidc.aws, duration: '2h' } } } },
  });
  expect(unhonoured.status).toBe(400);
  expect(unhonoured.body.errors).toEqual([{ field: 'operationContext.oidc.aws.duration', message: expect.stringContaining('not supported by Stackwright') }]);
});

test('a deployment gets a signed token in the files cloud SDKs read, and the metrics count it', async () => {
  const outDir = newOutDir();
  const seenFile = join(outDir, 'oidc-seen.json');
  await sw.api(`${stackPath('prod')}/hooks`, { method: 'POST', body: { active: true, displayName: 'rx', payloadUrl: `${rx.url}/prod` } }).then((r) => expect(r.status).toBe(201));
  const settings = await sw.api(`${stackPath('prod')}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoUrl: repo.url, branch: 'main' } },
      operationContext: {
        environmentVariables: { OUT_DIR: outDir, OIDC_SEEN_FILE: seenFile, DATABASE_PROBE: sw.config.databaseUrl },
        preRunCommands: [linkDependencies],
        options: { skipInstallDependencies: true },
        oidc,
      },
    },
  });
  expect(settings.status).toBe(200);
  expect(settings.body.operationContext.oidc).toEqual(oidc);

  const created = await sw.api(`${stackPath('prod')}/deployments`, { method: 'POST', body: { operation: 'update' } });
  expect(created.status).toBe(202);
  const done = await waitForDeployment(sw, stackPath('prod'), created.body.id);
  expect(done.status).toBe('succeeded');

  // What the program saw.
  const seen = JSON.parse(readFileSync(seenFile, 'utf8'));
  const tokenFile = seen.env.AWS_WEB_IDENTITY_TOKEN_FILE as string;
  expect(tokenFile).toBe(join(sw.config.dataDir, 'work', created.body.id, 'oidc', 'token'));
  expect(seen.env).toMatchObject({
    AWS_ROLE_ARN: oidc.aws.roleArn,
    AWS_ROLE_SESSION_NAME: oidc.aws.sessionName,
    AZURE_CLIENT_ID: oidc.azure.clientId,
    AZURE_TENANT_ID: oidc.azure.tenantId,
    AZURE_SUBSCRIPTION_ID: oidc.azure.subscriptionId,
    AZURE_FEDERATED_TOKEN_FILE: tokenFile,
    ARM_USE_OIDC: 'true',
    ARM_OIDC_TOKEN_FILE_PATH: tokenFile,
    GOOGLE_APPLICATION_CREDENTIALS: join(sw.config.dataDir, 'work', created.body.id, 'oidc', 'gcp-credentials.json'),
  });
  expect(JSON.parse(seen.env.PULUMI_DEPLOY_OIDC_CONFIG)).toEqual(oidc);
  expect(seen).toMatchObject({ armTokenIsTheFile: true, azureTokenFile: true, gcpSourceIsTheFile: true, databaseVisible: false });
  expect(seen.gcpCredentials).toMatchObject({
    type: 'external_account',
    audience: '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/stackwright-pool/providers/stackwright',
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    credential_source: { file: tokenFile, format: { type: 'text' } },
  });

  // The token verifies against the JWKS this server publishes, as AWS STS would check it.
  const discovery = (await (await fetch(`${sw.url}/oidc/.well-known/openid-configuration`)).json()) as any;
  expect(discovery.issuer).toBe(`${sw.config.publicUrl}/oidc`);
  const { payload } = await jwtVerify(seen.token, createRemoteJWKSet(new URL(`${sw.url}/oidc/.well-known/jwks`)), { issuer: discovery.issuer, audience: org });
  expect(payload).toMatchObject({
    sub: `pulumi:deploy:org:${org}:project:website:stack:prod:operation:update:scope:write`,
    org,
    project: 'website',
    stack: 'prod',
    operation: 'update',
    deployment: created.body.version,
    deploymentId: created.body.id,
    scope: 'write',
  });
  expect(payload.exp! - payload.iat!).toBe(900);

  // Printed by the program, it is masked in the log; the signing key is in no log either.
  const lines = (await sw.store.db.selectFrom('deployment_logs').select('line').where('deployment_id', '=', created.body.id).execute()).map((r) => r.line);
  const log = lines.join('\n');
  expect(log).toContain('the deployment token is [secret]');
  expect(log).not.toContain(seen.token);
  expect(log).not.toContain(seen.token.split('.')[2]);

  // Metrics: a scrape needs the token.
  expect((await scrape(null)).status).toBe(401);
  expect((await scrape('wrong-token-0123456789')).status).toBe(401);
  // Hook deliveries are sent by workflows after the deployment ended: scrape until every one the
  // receiver got is counted as delivered.
  const deliveredIn = (text: string) => [...text.matchAll(/^stackwright_hook_deliveries\{[^}]*outcome="delivered"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  let text = '';
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 300))) {
    const received = rx.on('/prod').length;
    text = (await scrape()).text;
    if (received > 0 && deliveredIn(text) === received) break;
    if (Date.now() > deadline) throw new Error(`hook deliveries: ${received} received, metrics say ${deliveredIn(text)} delivered`);
  }
  const { status } = await scrape();
  expect(status).toBe(200);
  expect(sample(text, 'stackwright_deployments', { operation: 'update', status: 'succeeded' })).toBe(1);
  expect(sample(text, 'stackwright_deployments_running')).toBe(0);
  const steps = (await sw.api(`${stackPath('prod')}/deployments/${created.body.id}`)).body.jobs[0].steps as { name: string }[];
  expect(sample(text, 'stackwright_deployment_step_duration_seconds_count', { step: 'Pulumi operation', status: 'succeeded' })).toBe(1);
  expect(sample(text, 'stackwright_deployment_step_duration_seconds_count', { step: 'Pre-run command', status: 'succeeded' })).toBe(1);
  expect(steps.map((s) => s.name)).toContain('Pulumi operation');
  expect(sample(text, 'stackwright_deployment_queue_wait_seconds_count', { operation: 'update' })).toBe(1);
  const allLines = await sw.store.db.selectFrom('deployment_logs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  expect(sample(text, 'stackwright_log_lines_total')).toBe(Number(allLines.n));
  expect(Number(allLines.n)).toBeGreaterThanOrEqual(lines.length);
  expect(text).toMatch(/^stackwright_hook_deliveries\{kind="\w+",event="[\w_-]+",outcome="delivered"\} [1-9]\d*$/m);
  // The API's own requests, by route pattern: waitForDeployment polled the deployment.
  expect(sample(text, 'stackwright_api_request_duration_seconds_count', { method: 'GET', route: '/api/stacks/:org/:project/:stack/deployments/:id', code: '200' })).toBeGreaterThan(0);
  expect(text).not.toContain(created.body.id);
  // Nothing queued once it ran.
  expect(text).not.toMatch(/^stackwright_queue_depth\{/m);
});
