import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HistoryCache } from '../src/state/history-cache';
import { startApiApp, type ApiApp } from './helpers/api-app';

// Stacks' Pulumi update histories as the API reads them: each file parsed once, a new one seen at once.

const update = (buildId: string, message: string) =>
  JSON.stringify({ kind: 'update', startTime: 1, endTime: 2, result: 'succeeded', message, environment: { 'ci.build.id': buildId } });

describe('HistoryCache', () => {
  let dir: string;
  let now = 0;
  const cache = new HistoryCache({ maxStacks: 2, racyMs: 2_000, now: () => now });
  const setMtime = (seconds: number) => utimesSync(dir, seconds, seconds);

  beforeAll(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'stackwright-history-')), 'dev');
  });
  afterAll(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  test('a stack without history has none', async () => {
    expect(await cache.history(dir)).toEqual([]);
  });

  test('files are read once, in timestamp order; a new file is seen at once', async () => {
    mkdirSync(dir);
    // Numeric order, not text order: 9... comes before 10...
    writeFileSync(join(dir, 'dev-10000000000.history.json'), update('d2', 'second'));
    writeFileSync(join(dir, 'dev-9000000000.history.json'), update('d1', 'first'));
    setMtime(100);
    now = 200_000;
    expect((await cache.history(dir)).map((u) => [u.updateID, u.version, u.message])).toEqual([
      ['dev-9000000000', 1, 'first'],
      ['dev-10000000000', 2, 'second'],
    ]);
    // Pulumi never rewrites a history file: a changed one is not read again.
    writeFileSync(join(dir, 'dev-9000000000.history.json'), update('d1', 'rewritten'));
    setMtime(100);
    expect((await cache.history(dir)).map((u) => u.message)).toEqual(['first', 'second']);
    // A new file changes the directory's time: it is listed and read; the others are kept.
    writeFileSync(join(dir, 'dev-11000000000.history.json'), update('d3', 'third'));
    setMtime(150);
    expect((await cache.history(dir)).map((u) => [u.version, u.message])).toEqual([
      [1, 'first'],
      [2, 'second'],
      [3, 'third'],
    ]);
  });

  test('a directory changed in the last moments is listed again, even at the same time', async () => {
    writeFileSync(join(dir, 'dev-12000000000.history.json'), update('d4', 'fourth'));
    setMtime(150); // as if written within the same clock tick as the last listing
    now = 151_000; // ... one second ago: too recent to trust the time
    expect((await cache.history(dir)).map((u) => u.message)).toEqual(['first', 'second', 'third', 'fourth']);
  });

  test('callers get their own copy; a removed stack has no history', async () => {
    (await cache.history(dir)).reverse();
    expect((await cache.history(dir))[0].message).toBe('first');
    rmSync(dir, { recursive: true });
    expect(await cache.history(dir)).toEqual([]);
  });
});

describe('deployments show the updates they made', () => {
  let api: ApiApp;
  let state: string;
  const TOKEN = randomBytes(24).toString('base64url');
  const ref = { org: 'acme', project: 'website', stack: 'dev' };

  beforeAll(async () => {
    state = mkdtempSync(join(tmpdir(), 'stackwright-history-state-'));
    api = await startApiApp({ name: 'history', token: TOKEN, deps: () => ({ stateBackendUrl: () => `file://${state}` }) });
  });
  afterAll(async () => {
    await api?.close();
    rmSync(state, { recursive: true, force: true });
  });

  test("in the deployment and in the stack's list, including an update made after an earlier read", async () => {
    const d = await api.store.createDeployment(ref, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: ['A'] });
    const history = join(state, '.pulumi', 'history', 'website', 'dev');
    mkdirSync(history, { recursive: true });
    writeFileSync(join(history, 'dev-1000.history.json'), update('someone-else', 'by hand'));
    const get = async (path: string) => {
      const res = await api.app.request(`/api/stacks/acme/website/dev/deployments${path}`, { headers: { Authorization: `token ${TOKEN}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as any;
    };
    expect((await get(`/${d.id}`)).updates).toEqual([]);
    writeFileSync(join(history, 'dev-2000.history.json'), update(d.id, 'from the deployment'));
    expect((await get(`/${d.id}`)).updates).toEqual([expect.objectContaining({ updateID: 'dev-2000', version: 2, message: 'from the deployment', result: 'succeeded' })]);
    expect((await get('')).deployments[0].updates).toEqual([expect.objectContaining({ updateID: 'dev-2000', version: 2 })]);
  });
});
