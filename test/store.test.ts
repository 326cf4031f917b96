import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import Sqlite from 'better-sqlite3';
import { openDatabase } from '../src/store/db';
import { migrate, migrationProvider } from '../src/store/migrations';
import type { Database } from '../src/store/schema';
import { Store } from '../src/store/store';
import { IdempotencyKeyTaken } from '../src/store/deployments';
import { storeBackends } from './helpers/backends';

// The same contract on SQLite and on PostgreSQL.
describe.each(storeBackends())('store on %s', (_name, url) => {
  let store: Store;
  // Each test file run uses its own organization, so a shared PostgreSQL needs no cleaning.
  const ref = { org: `o${randomUUID().slice(0, 8)}`, project: 'website', stack: 'dev' };

  beforeAll(async () => {
    store = new Store(await openDatabase(url()));
  });
  afterAll(async () => store.db.destroy());

  test('several processes may open a new database at once', async () => {
    const fresh = url(); // on SQLite a new file: its first migration races
    const dbs = await Promise.all(Array.from({ length: 4 }, () => openDatabase(fresh)));
    await Promise.all(dbs.map((d) => d.destroy()));
  });

  test('migrations are idempotent', async () => {
    const again = await openDatabase(url());
    await again.destroy();
  });

  test('settings are versioned and deleted', async () => {
    expect(await store.getSettings(ref)).toBeUndefined();
    const a = await store.saveSettings(ref, { sourceContext: { git: { repoURL: 'file:///r', branch: 'main' } } });
    const b = await store.saveSettings(ref, { sourceContext: { git: { repoURL: 'file:///r2', branch: 'main' } } });
    expect([a.version, b.version]).toEqual([1, 2]);
    expect((await store.getSettings(ref))?.settings.sourceContext?.git?.repoURL).toBe('file:///r2');
    expect(await store.deleteSettings(ref)).toBe(true);
    expect(await store.deleteSettings(ref)).toBe(false);
  });

  test('deployments get consecutive versions per stack, even when created at once', async () => {
    const make = () =>
      store.createDeployment(ref, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: ['Get source', 'Pulumi operation'] });
    const made = await Promise.all(Array.from({ length: 5 }, make));
    expect(made.map((d) => d.version).sort()).toEqual([1, 2, 3, 4, 5]);
    const other = await store.createDeployment({ ...ref, stack: 'prod' }, { operation: 'preview', settings: {}, inheritSettings: false, initiator: 'api', requestedBy: 't', steps: [] });
    expect(other.version).toBe(1);

    const page = await store.listDeployments(ref, { page: 2, pageSize: 2, asc: false });
    expect(page.deployments.map((d) => d.version)).toEqual([3, 2]);
    expect(page.total).toBe(5);
    expect(await store.latestVersion(ref)).toBe(5);
    expect((await store.listDeployments(ref, { page: 1, pageSize: 2, asc: true })).deployments.map((d) => d.version)).toEqual([1, 2]);
  });

  test("a stack's pages are ranges of its versions, in both orders, with the total on each", async () => {
    const stack = { ...ref, stack: 'paged' };
    const made = [];
    for (let i = 0; i < 7; i++) {
      made.push(await store.createDeployment(stack, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: ['A'] }));
    }
    await store.setStatus(made[3].id, 'failed');
    const versions = async (page: number, asc: boolean, status?: ['failed']) => {
      const p = await store.listDeployments(stack, { page, pageSize: 3, asc, status });
      return [p.deployments.map((d) => d.version), p.total];
    };
    expect(await Promise.all([1, 2, 3, 4].map((n) => versions(n, false)))).toEqual([[[7, 6, 5], 7], [[4, 3, 2], 7], [[1], 7], [[], 7]]);
    expect(await Promise.all([1, 2, 3, 4].map((n) => versions(n, true)))).toEqual([[[1, 2, 3], 7], [[4, 5, 6], 7], [[7], 7], [[], 7]]);
    expect(await versions(1, false, ['failed'])).toEqual([[4], 1]);
    // Every record comes with its own steps.
    const page = await store.listDeployments(stack, { page: 1, pageSize: 3, asc: false });
    expect(page.deployments.map((d) => [d.id, d.steps.map((s) => s.name)])).toEqual([made[6], made[5], made[4]].map((d) => [d.id, ['A']]));
  });

  test('a deployment is found by its version within its stack only', async () => {
    const d = await store.createDeployment({ ...ref, stack: 'byversion' }, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: ['A'] });
    expect((await store.getDeploymentByVersion({ ...ref, stack: 'byversion' }, 1))?.id).toBe(d.id);
    expect(await store.getDeploymentByVersion({ ...ref, stack: 'byversion' }, 2)).toBeUndefined();
    expect(await store.getDeploymentByVersion({ ...ref, stack: 'other' }, 1)).toBeUndefined();
  });

  test('lists filter by status, and an organization lists every stack newest first', async () => {
    const times = ['2030-01-01T00:00:01.000Z', '2030-01-01T00:00:02.000Z', '2030-01-01T00:00:03.000Z', '2030-01-01T00:00:04.000Z'];
    let tick = 0;
    const clocked = new Store(store.db, () => new Date(times[Math.min(tick++, times.length - 1)]));
    const org = { org: `l${randomUUID().slice(0, 8)}` };
    const make = (stack: string) =>
      clocked.createDeployment({ ...org, project: 'p', stack }, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: [] });
    const a1 = await make('a');
    const b1 = await make('b');
    const a2 = await make('a');
    await store.setStatus(a1.id, 'succeeded');
    await store.setStatus(b1.id, 'failed');

    const all = await store.listDeployments(org, { page: 1, pageSize: 10, asc: false });
    expect(all.deployments.map((d) => [d.stack, d.version])).toEqual([['a', 2], ['b', 1], ['a', 1]]);
    expect(all.total).toBe(3);
    const oldest = await store.listDeployments(org, { page: 2, pageSize: 2, asc: true });
    expect([oldest.deployments.map((d) => d.id), oldest.total]).toEqual([[a2.id], 3]);

    const done = await store.listDeployments(org, { page: 1, pageSize: 10, asc: false, status: ['succeeded', 'failed'] });
    expect([done.deployments.map((d) => d.id), done.total]).toEqual([[b1.id, a1.id], 2]);
    const waiting = await store.listDeployments({ ...org, project: 'p', stack: 'a' }, { page: 1, pageSize: 10, asc: false, status: ['not-started'] });
    expect([waiting.deployments.map((d) => d.id), waiting.total]).toEqual([[a2.id], 1]);

    const latest = await store.latestVersions(all.deployments);
    expect(Object.fromEntries(latest)).toEqual({ [`${org.org}/p/a`]: 2, [`${org.org}/p/b`]: 1 });
  });

  test('steps, statuses and logs round-trip in order', async () => {
    const d = await store.createDeployment(ref, { operation: 'destroy', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: ['A', 'B', 'C'] });
    await store.setStatus(d.id, 'running');
    await store.setStep(d.id, 0, 'running');
    await store.appendLogs(d.id, 0, [0, 1, 2].map((seq) => ({ seq, ts: new Date().toISOString(), line: `line ${seq}\n` })));
    await store.appendLogs(d.id, 0, [{ seq: 2, ts: new Date().toISOString(), line: 'duplicate is ignored\n' }]);
    expect(await store.countLogs(d.id, 0)).toBe(3);
    expect((await store.readLogs(d.id, 0, 1, 10)).map((l) => l.line)).toEqual(['line 1\n', 'line 2\n']);
    await store.setStep(d.id, 0, 'succeeded');
    await store.setStep(d.id, 1, 'running');
    await store.setStatus(d.id, 'failed', 'boom');
    await store.closeOpenSteps(d.id, 'failed');
    const got = (await store.getDeployment(ref, d.id))!;
    expect(got.status).toBe('failed');
    expect(got.message).toBe('boom');
    expect(got.started).not.toBeNull();
    expect(got.steps.map((s) => s.status)).toEqual(['succeeded', 'failed', 'skipped']);
    expect(await store.getDeployment({ ...ref, stack: 'prod' }, d.id)).toBeUndefined();
  });

  test('a final status is never rewritten, and step writes after it change nothing', async () => {
    const d = await store.createDeployment(ref, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: ['A', 'B'] });
    expect(await store.setStatus(d.id, 'running')).toBe(true);
    await store.setStep(d.id, 0, 'running');
    expect(await store.finishDeployment(d.id, 'failed', 'terminated')).toBe(true);
    // Late writes, as from an activity that outlived its workflow.
    expect(await store.setStatus(d.id, 'running')).toBe(false);
    expect(await store.setStatus(d.id, 'succeeded', 'late')).toBe(false);
    expect(await store.finishDeployment(d.id, 'succeeded')).toBe(false);
    await store.setStep(d.id, 0, 'succeeded');
    await store.setStep(d.id, 1, 'running');
    expect(await store.getDeploymentById(d.id)).toMatchObject({ status: 'failed', message: 'terminated', steps: [{ status: 'failed' }, { status: 'skipped' }] });
    // `from` limits a move further: a skip only takes a deployment that has not started.
    const running = await store.createDeployment(ref, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: [] });
    await store.setStatus(running.id, 'running');
    expect(await store.finishDeployment(running.id, 'skipped', 'too late', ['not-started'])).toBe(false);
    expect((await store.getDeploymentById(running.id))!.status).toBe('running');
  });

  test('an idempotency key names one deployment per stack until it is released', async () => {
    const stack = { ...ref, stack: 'idem' };
    const make = (s = stack) =>
      store.createDeployment(s, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: [], idempotency: { key: 'k-1', requestHash: 'h' } });
    const d = await make();
    expect(await store.findByIdempotencyKey(stack, 'k-1')).toEqual({ requestHash: 'h', deployment: expect.objectContaining({ id: d.id }) });
    await expect(make()).rejects.toThrow(IdempotencyKeyTaken);
    // Keys are per stack.
    expect((await make({ ...stack, stack: 'idem2' })).version).toBe(1);
    await store.releaseIdempotencyKey(d.id);
    expect(await store.findByIdempotencyKey(stack, 'k-1')).toBeUndefined();
    expect((await make()).version).toBe(2);
  });

  test('drift runs pair a detection with the remediation it queued; status follows the last successful one', async () => {
    const stack = { ...ref, stack: 'drifty' };
    const make = (operation: 'update' | 'detect-drift' | 'remediate-drift') =>
      store.createDeployment(stack, { operation, settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: [] });
    const finish = async (id: string, changes: Record<string, number>, drift: boolean | null) => {
      await store.recordChanges(id, changes, drift);
      await store.finishDeployment(id, 'succeeded');
    };
    expect(await store.driftStatus(stack)).toEqual({ driftDetected: false, latestDriftRun: undefined, runInProgress: false });

    const update = await make('update');
    await finish(update.id, { create: 2 }, null);
    const detected = await make('detect-drift');
    await finish(detected.id, { same: 1, update: 1 }, true);
    expect(await store.driftStatus(stack)).toEqual({ driftDetected: true, latestDriftRun: detected.id, runInProgress: false });

    const queued = await make('remediate-drift');
    await store.linkDriftRemediation(detected.id, queued.id);
    expect(await store.driftStatus(stack)).toEqual({ driftDetected: true, latestDriftRun: detected.id, runInProgress: true });
    await finish(queued.id, { same: 1, update: 1 }, true);
    expect((await store.driftStatus(stack)).driftDetected).toBe(false);

    const standalone = await make('remediate-drift');
    await finish(standalone.id, { same: 2 }, false);
    const clean = await make('detect-drift');
    await finish(clean.id, { same: 2 }, false);

    const page = await store.listDriftRuns(stack, { page: 1, pageSize: 10 });
    expect(page.total).toBe(3); // the queued remediation is part of its detection's run
    expect(page.runs.map((r) => [r.deployment.operation, r.deployment.driftDetected, r.remediation?.id])).toEqual([
      ['detect-drift', false, undefined],
      ['remediate-drift', false, undefined],
      ['detect-drift', true, queued.id],
    ]);
    expect(page.runs[2].deployment.resourceChanges).toEqual({ same: 1, update: 1 });
    expect(page.runs[2].remediation?.resourceChanges).toEqual({ same: 1, update: 1 });
    expect((await store.listDriftRuns(stack, { page: 2, pageSize: 2 })).runs.map((r) => r.deployment.id)).toEqual([detected.id]);
    expect(await store.driftStatus(stack)).toEqual({ driftDetected: false, latestDriftRun: clean.id, runInProgress: false });
    // Every operation keeps its change summary; only drift operations say whether it is drift.
    expect(await store.getDeploymentById(update.id)).toMatchObject({ resourceChanges: { create: 2 }, driftDetected: null });
  });

  test('stacks are found by the repository their VCS block names, through an index', async () => {
    const repo = `Acme/Infra-${randomUUID().slice(0, 6)}`;
    const a = { ...ref, stack: 'vcs-a' };
    const b = { ...ref, stack: 'vcs-b' };
    await store.saveSettings(a, { gitHub: { repository: repo, deployCommits: true } });
    await store.saveSettings(b, { vcs: { provider: 'github', repository: `${repo.toLowerCase()}.git` } });
    const key = { provider: 'github' as const, repository: repo.toLowerCase() };
    expect((await store.stacksForRepository(key)).map((s) => s.stack)).toEqual(['vcs-a', 'vcs-b']);
    expect((await store.stacksForRepository(key))[0].settings).toEqual({ gitHub: { repository: repo, deployCommits: true } });

    // Pointing a stack elsewhere, or deleting its settings, takes it out of the index.
    await store.saveSettings(a, { gitHub: { repository: 'acme/other' } });
    expect((await store.stacksForRepository(key)).map((s) => s.stack)).toEqual(['vcs-b']);
    await store.deleteSettings(b);
    expect(await store.stacksForRepository(key)).toEqual([]);
    expect(await store.stacksForRepository({ provider: 'gitlab', repository: 'acme/other' })).toEqual([]);

    if (_name === 'sqlite') {
      const { rows } = await sql<{ detail: string }>`EXPLAIN QUERY PLAN SELECT org FROM stack_repositories WHERE provider = 'github' AND repository = 'x'`.execute(store.db);
      expect(rows.map((r) => r.detail).join(' ')).toMatch(/USING (COVERING )?INDEX/);
    }
  });

  test('timestamps are stored as ISO strings', async () => {
    const { rows } = await sql<{ created: string }>`select created from deployments limit 1`.execute(store.db);
    expect(rows[0].created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
});

// SQLite only: it replays the migrations from the first one on a file of its own.
test('the VCS migration indexes settings stored before it', async () => {
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Sqlite(join(mkdtempSync(join(tmpdir(), 'stackwright-db-')), 'old.sqlite')) }) });
  await new Migrator({ db, provider: migrationProvider }).migrateTo('0001_initial');
  const settings = JSON.stringify({ vcs: { provider: 'custom', repository: 'HTTPS://Git.Example.com/acme/infra.git/' } });
  const row = { org: 'acme', project: 'website', stack: 'old', settings, version: 1, created: 'x', modified: 'x' };
  await (db as Kysely<Database>).insertInto('stack_settings').values(row).execute();
  await migrate(db);
  const old = new Store(db as Kysely<Database>);
  expect((await old.stacksForRepository({ provider: 'custom', repository: 'https://git.example.com/acme/infra' })).map((s) => s.stack)).toEqual(['old']);
  await db.destroy();
});
