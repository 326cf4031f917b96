import { randomUUID } from 'node:crypto';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { deleteToken, findToken, insertToken, listTokens } from '../src/store/tokens';
import { listAudit, recordAudit, type AuditEntry } from '../src/store/audit';
import { knownOrganizations } from '../src/store/organizations';
import { storeBackends } from './helpers/backends';

// Tokens and the audit log: the same contract on SQLite and on PostgreSQL.
describe.each(storeBackends())('tokens and audit log on %s', (_name, url) => {
  let store: Store;
  // A shared PostgreSQL keeps rows of other runs: names and organizations are unique per run.
  const run = randomUUID().slice(0, 8);
  const org = `o${run}`;
  const hex = (n: number) => randomUUID().replace(/-/g, '').slice(0, n);

  beforeAll(async () => {
    store = new Store(await openDatabase(url()));
  });
  afterAll(async () => store.db.destroy());

  test('tokens are stored, found by id, listed by organization, unique by name and deleted', async () => {
    const base = { role: 'deployer' as const, hash: 'ab'.repeat(32), createdBy: 'bootstrap-admin', expiresAt: null };
    const a = await insertToken(store.db, { ...base, id: hex(16), name: `a-${run}`, organization: org });
    const b = await insertToken(store.db, { ...base, id: hex(16), name: `b-${run}`, organization: null, expiresAt: '2099-01-01T00:00:00.000Z' });
    expect(a).toMatchObject({ name: `a-${run}`, organization: org, role: 'deployer', createdBy: 'bootstrap-admin', expiresAt: null });
    expect(await insertToken(store.db, { ...base, id: hex(16), name: `a-${run}`, organization: null })).toBeUndefined();

    expect(await findToken(store.db, b!.id)).toEqual({ ...b, hash: base.hash });
    expect((await listTokens(store.db, org)).map((t) => t.name)).toEqual([`a-${run}`]);
    expect((await listTokens(store.db)).map((t) => t.name)).toEqual(expect.arrayContaining([`a-${run}`, `b-${run}`]));

    expect(await deleteToken(store.db, a!.id)).toBe(true);
    expect(await deleteToken(store.db, a!.id)).toBe(false);
    expect(await findToken(store.db, a!.id)).toBeUndefined();
  });

  test('the same name made twice at once is stored once', async () => {
    const made = await Promise.all(
      Array.from({ length: 4 }, () =>
        insertToken(store.db, { id: hex(16), name: `race-${run}`, role: 'viewer', organization: null, hash: 'cd'.repeat(32), createdBy: 'x', expiresAt: null }),
      ),
    );
    expect(made.filter(Boolean)).toHaveLength(1);
  });

  test("an organization's audit log holds its entries and those for every organization, newest first, paged", async () => {
    const entry = (n: number, o: string | null): AuditEntry => ({ org: o, event: 'stack.pause', target: `t${n}`, description: `d${n}`, actor: 'alice', tokenId: null });
    // Entries made in the same millisecond keep their order.
    const at = new Date();
    for (const [n, o] of [[1, org], [2, null], [3, `x${run}`], [4, org], [5, org]] as const) await recordAudit(store.db, entry(n, o), at);

    const all = await listAudit(store.db, org, { page: 1, pageSize: 100 });
    const mine = all.entries.filter((e) => e.org === org || e.target === 't2');
    expect(mine.map((e) => e.target)).toEqual(['t5', 't4', 't2', 't1']);
    expect(all.entries.some((e) => e.org === `x${run}`)).toBe(false);
    expect(all.entries[0]).toEqual({ id: expect.any(Number), created: at.toISOString(), org, event: 'stack.pause', target: 't5', description: 'd5', actor: 'alice', tokenId: null });

    const page = await listAudit(store.db, org, { page: 2, pageSize: 1 });
    expect(page.entries.map((e) => e.target)).toEqual(['t4']);
    expect(page.total).toBe(all.total);
  });

  test('known organizations are those with settings or deployments, each once', async () => {
    await store.saveSettings({ org, project: 'p', stack: 's' }, {});
    await store.createDeployment({ org, project: 'p', stack: 's2' }, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: [] });
    await store.createDeployment({ org: `d${run}`, project: 'p', stack: 's' }, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: [] });
    const orgs = await knownOrganizations(store.db);
    expect(orgs.filter((o) => o === org)).toHaveLength(1);
    expect(orgs).toContain(`d${run}`);
  });
});
