import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { serve, type ServerType } from '@hono/node-server';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, errors as joseErrors } from 'jose';
import type { Client } from '@temporalio/client';
import { createApp } from '../src/api/app';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { recordCacheLookup } from '../src/store/caches';
import { SecretBox } from '../src/secret-box';
import { OidcIssuer } from '../src/state/oidc-issuer';
import { oidcCredentials } from '../src/activities/oidc-credentials';
import { Masker } from '../src/activities/masker';
import type { DeploymentInput } from '../src/shared/deployment';

// The OIDC issuer (keys, rotation, claims, expiry, the files clouds' SDKs read) and the metrics
// endpoint, through a real HTTP server on a real SQLite store; verification with jose against the
// published JWKS, as a cloud provider does it.

const HOUR = 3600;
const METRICS_TOKEN = 'metrics-token-0123456789';
let dir: string;
let store: Store;
let server: ServerType;
let url: string;
let clock = new Date('2026-01-01T00:00:00Z');
const box = new SecretBox(randomBytes(32));
let issuer: OidcIssuer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stackwright-oidc-'));
  store = new Store(await openDatabase(join(dir, 'db.sqlite')));
  issuer = new OidcIssuer(store, box, { publicUrl: 'https://sw.example.com/', tokenSeconds: 2 * HOUR, rotationSeconds: 24 * HOUR, now: () => clock });
  const app = createApp({
    store,
    box,
    temporal: {} as Client,
    token: randomBytes(24).toString('base64url'),
    taskQueue: 'oidc-test',
    namespace: 'default',
    publicUrl: 'https://sw.example.com',
    log: pino({ level: 'silent' }),
    stateBackendUrl: () => 'file:///nonexistent',
    pulumiPassphrase: async () => 'not-used',
    metricsToken: METRICS_TOKEN,
    oidc: issuer,
  });
  server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await store?.db.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const input: DeploymentInput = { id: 'd-1', org: 'acme', project: 'website', stack: 'prod', version: 7, operation: 'update' } as DeploymentInput;
const claimsOf = (i: DeploymentInput) => ({ org: i.org, project: i.project, stack: i.stack, operation: i.operation, deploymentId: i.id, version: i.version });
// A fresh key set per check: what a verifier that has not cached the keys sees.
const verify = (token: string, at: Date = clock) =>
  jwtVerify(token, createRemoteJWKSet(new URL(`${url}/oidc/.well-known/jwks`), { cacheMaxAge: 0 }), {
    issuer: 'https://sw.example.com/oidc',
    audience: 'acme',
    currentDate: at,
  });
const jwksKids = async () => ((await (await fetch(`${url}/oidc/.well-known/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

describe('OIDC issuer', () => {
  test('discovery documents name the issuer and its JWKS, at the issuer and at the root', async () => {
    for (const path of ['/oidc/.well-known/openid-configuration', '/.well-known/openid-configuration']) {
      const res = await fetch(url + path);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        issuer: 'https://sw.example.com/oidc',
        jwks_uri: 'https://sw.example.com/oidc/.well-known/jwks',
        id_token_signing_alg_values_supported: ['RS256'],
        subject_types_supported: ['public'],
      });
    }
  });

  test('a deployment token verifies against the published JWKS and carries Pulumi-like claims', async () => {
    const { token, expires } = await issuer.mint(claimsOf(input));
    const { payload, protectedHeader } = await verify(token);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: expect.any(String) });
    expect(payload).toEqual({
      iss: 'https://sw.example.com/oidc',
      aud: 'acme',
      sub: 'pulumi:deploy:org:acme:project:website:stack:prod:operation:update:scope:write',
      org: 'acme',
      project: 'website',
      stack: 'prod',
      operation: 'update',
      deployment: 7,
      deploymentId: 'd-1',
      scope: 'write',
      iat: clock.getTime() / 1000,
      nbf: clock.getTime() / 1000,
      exp: clock.getTime() / 1000 + 2 * HOUR,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(expires.getTime()).toBe(clock.getTime() + 2 * HOUR * 1000);
    // Each token is its own (jti), and a wrong audience is refused.
    const other = await issuer.mint(claimsOf(input));
    expect((await verify(other.token)).payload.jti).not.toBe(payload.jti);
    await expect(
      jwtVerify(token, createRemoteJWKSet(new URL(`${url}/oidc/.well-known/jwks`)), { audience: 'other-org', currentDate: clock }),
    ).rejects.toBeInstanceOf(joseErrors.JWTClaimValidationFailed);
  });

  test('a token is refused once expired, and a tampered one never verifies', async () => {
    const { token } = await issuer.mint(claimsOf(input));
    await expect(verify(token, new Date(clock.getTime() + 2 * HOUR * 1000 - 1000))).resolves.toBeDefined();
    await expect(verify(token, new Date(clock.getTime() + 2 * HOUR * 1000 + 1000))).rejects.toBeInstanceOf(joseErrors.JWTExpired);
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), stack: 'other' })).toString('base64url');
    await expect(verify(`${h}.${forged}.${s}`)).rejects.toBeInstanceOf(joseErrors.JWSSignatureVerificationFailed);
  });

  test('the private key is sealed at rest with the secrets key; the JWKS holds public halves only', async () => {
    const rows = await store.db.selectFrom('oidc_keys').selectAll().execute();
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.private_jwk).toMatch(/^v1:/);
      const priv = JSON.parse(box.decrypt(r.private_jwk));
      expect(priv.d).toBeDefined();
      expect(r.private_jwk).not.toContain(priv.d);
    }
    const jwks = (await (await fetch(`${url}/oidc/.well-known/jwks`)).json()) as any;
    for (const k of jwks.keys) {
      expect(Object.keys(k).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    }
  });

  test('keys rotate after their age; an old key stays published until its last token expired', async () => {
    const first = await issuer.mint(claimsOf(input));
    const firstKid = decodeProtectedHeader(first.token).kid!;
    // Still within the rotation age: the same key signs.
    clock = new Date(clock.getTime() + 23 * HOUR * 1000);
    const late = await issuer.mint(claimsOf(input));
    expect(decodeProtectedHeader(late.token).kid).toBe(firstKid);
    // At it: a new key signs, and both are published while the late token may be used.
    clock = new Date(clock.getTime() + 1 * HOUR * 1000);
    const rotated = await issuer.mint(claimsOf(input));
    const newKid = decodeProtectedHeader(rotated.token).kid!;
    expect(newKid).not.toBe(firstKid);
    expect(await jwksKids()).toEqual(expect.arrayContaining([firstKid, newKid]));
    await expect(verify(late.token)).resolves.toBeDefined();
    await expect(verify(rotated.token)).resolves.toBeDefined();
    // Once every token of the old key has expired, it is no longer published.
    clock = new Date(late.expires.getTime() + 1000);
    expect(await jwksKids()).toEqual([newKid]);
    await expect(verify(rotated.token)).resolves.toBeDefined();
    // The next rotation drops from the store every key that no valid token needs.
    clock = new Date(clock.getTime() + 24 * HOUR * 1000);
    const third = decodeProtectedHeader((await issuer.mint(claimsOf(input))).token).kid!;
    const kids = (await store.db.selectFrom('oidc_keys').select('kid').execute()).map((r) => r.kid);
    expect(kids).toEqual([third]);
    expect(await jwksKids()).toEqual([third]);
  });
});

describe('credential files for the clouds', () => {
  test('AWS, Azure and GCP: the token file, the environment the SDKs read, an external-account file', async () => {
    const workspace = mkdtempSync(join(dir, 'ws-'));
    const masker = new Masker([]);
    const { env, stop } = await oidcCredentials(
      issuer,
      input,
      {
        aws: { roleArn: 'arn:aws:iam::123456789012:role/deploy', sessionName: 'stackwright-deploy' },
        azure: { clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', subscriptionId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' },
        gcp: { projectId: '123456789', workloadPoolId: 'pulumi-pool', providerId: 'stackwright', serviceAccount: 'deploy@my-proj.iam.gserviceaccount.com', region: 'europe-west1', tokenLifetime: '1h30m' },
      },
      { workspace, masker, sandboxed: false },
    );
    const tokenFile = join(workspace, 'oidc', 'token');
    const token = readFileSync(tokenFile, 'utf8');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect((await verify(token)).payload.sub).toBe('pulumi:deploy:org:acme:project:website:stack:prod:operation:update:scope:write');
    expect(env).toMatchObject({
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/deploy',
      AWS_ROLE_SESSION_NAME: 'stackwright-deploy',
      AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      AZURE_TENANT_ID: '66666666-7777-8888-9999-000000000000',
      AZURE_SUBSCRIPTION_ID: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      ARM_USE_OIDC: 'true',
      ARM_OIDC_TOKEN_FILE_PATH: tokenFile,
      ARM_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      GOOGLE_APPLICATION_CREDENTIALS: join(workspace, 'oidc', 'gcp-credentials.json'),
      GOOGLE_REGION: 'europe-west1',
    });
    expect(JSON.parse(readFileSync(env.GOOGLE_APPLICATION_CREDENTIALS, 'utf8'))).toEqual({
      type: 'external_account',
      audience: '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/pulumi-pool/providers/stackwright',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: 'https://sts.googleapis.com/v1/token',
      service_account_impersonation_url: 'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/deploy@my-proj.iam.gserviceaccount.com:generateAccessToken',
      service_account_impersonation: { token_lifetime_seconds: 5400 },
      credential_source: { file: tokenFile, format: { type: 'text' } },
    });
    // Printed, the token is masked.
    expect(masker.mask(`token=${token}`)).toBe('token=[secret]');
    expect(masker.mask(`sig=${token.split('.')[2]}`)).toBe('sig=[secret]');
    stop();
  });

  test('while the step runs the token file is renewed at half the lifetime; the renewals are masked too', async () => {
    const shortLived = new OidcIssuer(store, box, { publicUrl: 'https://sw.example.com', tokenSeconds: 2, rotationSeconds: 24 * HOUR });
    const workspace = mkdtempSync(join(dir, 'ws-'));
    const masker = new Masker([]);
    const { env, stop } = await oidcCredentials(shortLived, input, { aws: { roleArn: 'arn:aws:iam::123456789012:role/deploy', sessionName: 'sw' } }, { workspace, masker, sandboxed: false });
    const first = readFileSync(env.AWS_WEB_IDENTITY_TOKEN_FILE, 'utf8');
    await new Promise((r) => setTimeout(r, 1600));
    const second = readFileSync(env.AWS_WEB_IDENTITY_TOKEN_FILE, 'utf8');
    stop();
    expect(second).not.toBe(first);
    expect(masker.mask(second)).toBe('[secret]');
    await new Promise((r) => setTimeout(r, 1200));
    // Stopped with the step: no more renewals.
    expect(readFileSync(env.AWS_WEB_IDENTITY_TOKEN_FILE, 'utf8')).toBe(second);
  });

  test('only the configured clouds get variables; none configured, no token at all', async () => {
    const workspace = mkdtempSync(join(dir, 'ws-'));
    const { env, stop } = await oidcCredentials(issuer, input, { aws: { roleArn: 'arn:aws:iam::123456789012:role/deploy', sessionName: 'sw' } }, { workspace, masker: new Masker([]), sandboxed: false });
    stop();
    expect(Object.keys(env).sort()).toEqual(['AWS_ROLE_ARN', 'AWS_ROLE_SESSION_NAME', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'PULUMI_DEPLOY_OIDC_CONFIG']);
    const none = mkdtempSync(join(dir, 'ws-'));
    expect((await oidcCredentials(issuer, input, { aws: null, gcp: undefined }, { workspace: none, masker: new Masker([]), sandboxed: false })).env).toEqual({});
  });
});

describe('metrics', () => {
  const scrape = (auth?: string) => fetch(`${url}/metrics`, { headers: auth ? { Authorization: auth } : {} });

  test('with STACKWRIGHT_METRICS_TOKEN set, a scrape needs it as a bearer token', async () => {
    expect((await scrape()).status).toBe(401);
    expect((await scrape('Bearer wrong-token-0123456789')).status).toBe(401);
    expect((await scrape(`token ${METRICS_TOKEN}`)).status).toBe(401);
    const res = await scrape(`Bearer ${METRICS_TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('# TYPE stackwright_deployments gauge');
  });

  test('API request durations are labelled with the route pattern, never the raw path', async () => {
    await fetch(`${url}/api/stacks/acme/website/prod/deployments/abc-123`);
    await fetch(`${url}/no/such/path`);
    const text = await (await scrape(`Bearer ${METRICS_TOKEN}`)).text();
    // Refused (no API token) but labelled with the route it was for.
    expect(text).toMatch(/stackwright_api_request_duration_seconds_count\{method="GET",route="\/api\/stacks\/:org\/:project\/:stack\/deployments\/:id",code="401"\} 1/);
    expect(text).toMatch(/stackwright_api_request_duration_seconds_count\{method="GET",route="\(unmatched\)",code="404"\} 1/);
    expect(text).not.toContain('abc-123');
    expect(text).toMatch(/route="\/oidc\/\.well-known\/jwks",code="200"/);
  });
  test('dependency cache lookups recorded by workers are exposed by result', async () => {
    const lookups = (text: string, result: string) => Number(text.match(new RegExp(`^stackwright_dependency_cache_lookups\\{result="${result}"\\} (\\d+)$`, 'm'))?.[1] ?? NaN);
    await recordCacheLookup(store.db, 'miss');
    await recordCacheLookup(store.db, 'hit');
    await recordCacheLookup(store.db, 'hit');
    const text = await (await scrape(`Bearer ${METRICS_TOKEN}`)).text();
    expect([lookups(text, 'hit'), lookups(text, 'miss')]).toEqual([2, 1]);
  });
});
