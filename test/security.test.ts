import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultPayloadConverter } from '@temporalio/common';
import { codecKeys, EncryptionCodec } from '../src/codec/payload-codec';
import { codecRoutes } from '../src/codec/codec-routes';
import { loadConfig } from '../src/config';
import { moveUrlCredentials, repoUrlProblem } from '../src/shared/repo-url';
import { stackPassphrase } from '../src/activities/stack-state';

const converter = new DefaultPayloadConverter();
const master = randomBytes(32);

describe('payload codec', () => {
  const input = { settings: { preRunCommands: ['echo visible-marker'] } };

  test('encrypts whole payloads with the key id in the metadata, and decodes them back', async () => {
    const codec = new EncryptionCodec(codecKeys(master));
    const [encoded] = await codec.encode([converter.toPayload(input)]);
    expect(Buffer.from(encoded.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(encoded.metadata!['encryption-key-id']!).toString()).toMatch(/^k-[0-9a-f]{12}$/);
    expect(Buffer.from(encoded.data!).toString('latin1')).not.toContain('visible-marker');
    expect(converter.fromPayload((await codec.decode([encoded]))[0])).toEqual(input);
  });

  test('a payload written before encryption passes through (histories still replay)', async () => {
    const plain = converter.toPayload(input);
    expect(await new EncryptionCodec(codecKeys(master)).decode([plain])).toEqual([plain]);
  });

  test('rotation: a new key listed first encrypts; payloads of the old key still decode', async () => {
    const old = new EncryptionCodec(codecKeys(master));
    const [before] = await old.encode([converter.toPayload(input)]);
    const rotated = new EncryptionCodec(codecKeys(master, `k2026=${randomBytes(32).toString('base64')}`));
    const [after] = await rotated.encode([converter.toPayload(input)]);
    expect(Buffer.from(after.metadata!['encryption-key-id']!).toString()).toBe('k2026');
    expect(converter.fromPayload((await rotated.decode([before]))[0])).toEqual(input);
    await expect(old.decode([after])).rejects.toThrow(/unknown key k2026/);
  });

  test('the remote codec endpoint needs a token and speaks Temporal JSON', async () => {
    const codec = new EncryptionCodec(codecKeys(master));
    const app = codecRoutes({ codec, allows: async (t) => t === 'api-token-1234567890', pathToken: 'path-token', uiOrigin: 'http://localhost:8233' });
    const payload = converter.toPayload(input);
    const json = { payloads: [{ metadata: { encoding: Buffer.from(payload.metadata!.encoding!).toString('base64') }, data: Buffer.from(payload.data!).toString('base64') }] };
    const post = (path: string, headers: Record<string, string> = {}) =>
      app.request(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(json) });
    expect((await post('/encode')).status).toBe(401);
    expect((await post('/wrong-token/encode')).status).toBe(401);
    const enc = await post('/encode', { Authorization: 'token api-token-1234567890', Origin: 'http://localhost:8233' });
    expect(enc.status).toBe(200);
    expect(enc.headers.get('Access-Control-Allow-Origin')).toBe('http://localhost:8233');
    const encoded = (await enc.json()) as typeof json;
    const dec = await app.request('/path-token/decode', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(encoded) });
    expect(await dec.json()).toEqual(json);
  });
});

describe('repository URLs', () => {
  test.each([
    ['https://github.com/acme/r.git', false, undefined],
    ['ssh://git@github.com/acme/r.git', false, undefined],
    ['git@github.com:acme/r.git', false, undefined],
    ['file:///srv/r.git', true, undefined],
    ['/srv/r.git', true, undefined],
    ['file:///srv/r.git', false, /STACKWRIGHT_ALLOW_LOCAL_REPOS/],
    ['./r', false, /STACKWRIGHT_ALLOW_LOCAL_REPOS/],
    ['ext::sh -c id', true, /transport helpers/],
    ['fd::0', true, /transport helpers/],
    ['git://example.com/r.git', false, /git:\/\/ transport/],
    ['http://169.254.169.254/', false, /link-local or metadata/],
    ['https://[fd00:ec2::254]/r.git', false, /link-local or metadata/],
  ])('%s (local allowed: %s)', (url, allowLocal, problem) => {
    const got = repoUrlProblem(url, allowLocal);
    if (problem) expect(got).toMatch(problem);
    else expect(got).toBeUndefined();
  });

  test('credentials in the URL move into gitAuth', () => {
    expect(moveUrlCredentials({ sourceContext: { git: { repoURL: 'https://me:p%40ss@host/r.git' } } })).toEqual({
      sourceContext: { git: { repoURL: 'https://host/r.git', gitAuth: { basicAuth: { userName: 'me', password: { secret: 'p@ss' } } } } },
    });
  });
});

test('each stack has its own Pulumi passphrase', () => {
  const a = stackPassphrase(master, { org: 'acme', project: 'web', stack: 'dev' });
  expect(a).toBe(stackPassphrase(master, { org: 'acme', project: 'web', stack: 'dev' }));
  expect(a).not.toBe(stackPassphrase(master, { org: 'acme', project: 'web', stack: 'prod' }));
  expect(a.length).toBeGreaterThanOrEqual(32);
});

test('a sandbox bind exposing the data dir stops start-up', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stackwright-binds-'));
  for (const binds of [dataDir, join(dataDir, 'work'), `${tmpdir()}:ro`]) {
    expect(() => loadConfig({ STACKWRIGHT_DATA_DIR: dataDir, STACKWRIGHT_SANDBOX_BINDS: `/opt/cache,${binds}` })).toThrow(/STACKWRIGHT_SANDBOX_BINDS: .* would expose the data dir/);
  }
  expect(loadConfig({ STACKWRIGHT_DATA_DIR: dataDir, STACKWRIGHT_SANDBOX_BINDS: '/opt/cache:ro' }).STACKWRIGHT_SANDBOX_BINDS).toEqual([{ path: '/opt/cache', readOnly: true }]);
});
