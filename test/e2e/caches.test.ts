import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { newOutDir, readAllLogs, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';

// Dependency cache, repository mirrors and parallel stacks through the real API, Temporal, git, npm and pulumi.
const org = `c${Date.now().toString(36)}`;
const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;

let sw: Stackwright;
let repo: TestRepo;

beforeAll(async () => {
  // One installed node_modules of the test program is about 110 MB: the bound holds one entry, not two.
  sw = await startStackwright({ STACKWRIGHT_DEPENDENCY_CACHE_MAX_MB: '150', STACKWRIGHT_MAX_CONCURRENT_DEPLOYMENTS: '4' });
  repo = createProgramRepo('website');
}, 600_000);
afterAll(async () => sw?.stop());

async function configure(
  stack: string,
  o: { link?: boolean; env?: Record<string, string>; cache?: boolean; commit?: string; repo?: TestRepo; preRunCommands?: string[] } = {},
): Promise<string> {
  const outDir = newOutDir();
  const res = await sw.api(`${stackPath(stack)}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoUrl: (o.repo ?? repo).url, ...(o.commit ? { commit: o.commit } : { branch: 'main' }) } },
      operationContext: {
        environmentVariables: { OUT_DIR: outDir, ...o.env },
        ...(o.link ? { preRunCommands: [linkDependencies], options: { skipInstallDependencies: true } } : {}),
        ...(o.preRunCommands ? { preRunCommands: o.preRunCommands } : {}),
      },
      ...(o.cache === false ? { cacheOptions: { enable: false } } : {}),
    },
  });
  expect(res.status).toBe(200);
  return outDir;
}

async function deploy(stack: string, body: object = { operation: 'update' }): Promise<{ id: string; version: number }> {
  const res = await sw.api(`${stackPath(stack)}/deployments`, { method: 'POST', body });
  expect(res.status).toBe(202);
  return res.body;
}

/** Deploys, waits, and returns the deployment with its whole log as text. */
async function run(stack: string, body?: object): Promise<{ d: any; text: string }> {
  const { id } = await deploy(stack, body);
  const d = await waitForDeployment(sw, stackPath(stack), id, 400_000);
  const text = (await readAllLogs(sw, stackPath(stack), id)).map((l) => l.line ?? '').join('');
  expect({ status: d.status, text: d.status === 'succeeded' ? '' : text }).toEqual({ status: 'succeeded', text: '' });
  return { d, text };
}

const cacheRoot = () => join(sw.config.dataDir, 'caches', 'dependencies');
const entries = () => readdirSync(cacheRoot()).flatMap((s) => readdirSync(join(cacheRoot(), s)).filter((n) => !n.startsWith('.')).map((n) => join(cacheRoot(), s, n)));

/** The entries once no save is still hashing in the background (an entry appears when its manifest is written). */
async function settledEntries(): Promise<string[]> {
  const pending = () => readdirSync(cacheRoot()).some((s) => readdirSync(join(cacheRoot(), s)).some((n) => n.startsWith('.tmp-')));
  for (let waited = 0; pending() && waited < 60_000; waited += 200) await new Promise((r) => setTimeout(r, 200));
  return entries();
}

test('node_modules comes from the cache when the lockfile is unchanged; corruption, a lockfile change, the bound and a clear all miss', async () => {
  const outDir = await configure('deps', { env: { GREETING: 'cached' } });

  const first = await run('deps');
  expect(first.text).toContain('Dependency cache: miss (no cache entry');
  expect(first.text).toContain('$ npm ci');
  expect(first.text).toContain('Dependency cache: node_modules saved');
  expect(await settledEntries()).toHaveLength(1);

  const second = await run('deps');
  expect(second.text).toContain('Dependency cache: node_modules restored from cache');
  expect(second.text).not.toContain('$ npm ci');
  // The program ran on the restored packages.
  expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('cached from deps');

  // One byte changed in a cached file: detected on restore, removed, rebuilt.
  const [entry] = await settledEntries();
  appendFileSync(join(entry, 'node_modules', '@pulumi', 'pulumi', 'package.json'), ' ');
  const third = await run('deps');
  expect(third.text).toContain('Dependency cache: miss (the cache entry was corrupted');
  expect(third.text).toContain('$ npm ci');
  expect(third.text).toContain('Dependency cache: node_modules saved');

  // A changed lockfile misses; its entry and the old one do not both fit, so the older is evicted.
  const lock = readFileSync(join(__dirname, '..', 'fixtures', 'program', 'package-lock.json'), 'utf8');
  const changed = repo.commit({ 'package-lock.json': `${lock.trimEnd()}\n\n` });
  const fourth = await run('deps');
  expect(fourth.d.jobs[0].steps.length).toBeGreaterThan(0);
  expect(fourth.text).toContain(changed);
  expect(fourth.text).toContain('Dependency cache: miss (no cache entry');
  expect(fourth.text).toContain('evicted 1 least recently used');
  expect(await settledEntries()).toHaveLength(1);

  // Clearing the stack's cache (Pulumi's route) makes the next deployment install afresh.
  expect((await sw.api(`/api/stacks/${org}/website/nope/deployments/cache`, { method: 'DELETE' })).status).toBe(404);
  const cleared = await sw.api(`${stackPath('deps')}/deployments/cache`, { method: 'DELETE' });
  expect(cleared.status).toBe(200);
  const fifth = await run('deps');
  expect(fifth.text).toContain('Dependency cache: miss (no cache entry');
  expect(fifth.text).toContain('$ npm ci');
  expect((await settledEntries()).map((e) => e.split('/').at(-1)!.split('-')[0])).toEqual(['1']);

  // cacheOptions.enable=false: neither read nor written.
  await configure('deps', { cache: false });
  const off = await run('deps');
  expect(off.text).toContain('Dependency cache: not used (cacheOptions.enable is false)');
  expect(off.text).toContain('$ npm ci');
}, 900_000);

test('code of a deployment cannot change what the cache hands to the next stack of the project', async () => {
  const pkg = 'node_modules/@pulumi/pulumi/package.json';
  // What hostile code in the workspace tries after the install (as the sandbox's user): write into a
  // cached file, chmod it, then replace it by another file under the same name.
  const tamper = [
    `echo "BEFORE $(sha256sum ${pkg} | cut -c1-64)"`,
    `(echo evil >> ${pkg}) 2>/dev/null && echo "TAMPER wrote" || echo "TAMPER write refused"`,
    `chmod 666 ${pkg} 2>/dev/null && echo "TAMPER chmod" || echo "TAMPER chmod refused"`,
    `cat ${pkg} > /tmp/p && rm -f ${pkg} && cat /tmp/p > ${pkg} && echo ' ' >> ${pkg} && echo "TAMPER replaced"`,
    'mkdir -p node_modules/.cache && echo ok > node_modules/.cache/x && echo "WROTE new file"',
  ].join('; ');
  const show = `echo "AFTER $(sha256sum ${pkg} | cut -c1-64)"`;
  const digest = (text: string, label: string) => text.match(new RegExp(`${label} ([0-9a-f]{64})`))?.[1];
  await configure('tamper-a', { preRunCommands: [tamper] });
  await configure('tamper-b', { preRunCommands: [show] });

  for (const phase of ['saved', 'restored']) {
    // First the entry is made by tamper-a's own install (a miss), then tamper-a restores it.
    if (phase === 'saved') expect((await sw.api(`${stackPath('tamper-a')}/deployments/cache`, { method: 'DELETE' })).status).toBe(200);
    const a = await run('tamper-a');
    expect(a.text).toContain(phase === 'saved' ? 'Dependency cache: node_modules saved' : 'Dependency cache: node_modules restored from cache');
    // Whole lines: the command itself, echoed in the log, holds these words too.
    const said = (line: string) => new RegExp(`^${line}$`, 'm').test(a.text);
    expect(['TAMPER wrote', 'TAMPER write refused', 'TAMPER chmod', 'TAMPER chmod refused', 'TAMPER replaced'].filter(said)).toEqual([
      'TAMPER write refused',
      'TAMPER chmod refused',
      'TAMPER replaced',
    ]);
    // node_modules still takes new files (its directories are the deployment's).
    expect(said('WROTE new file')).toBe(true);
    await settledEntries();
    const b = await run('tamper-b');
    expect(b.text).toContain('Dependency cache: node_modules restored from cache');
    expect(digest(b.text, 'AFTER')).toBe(digest(a.text, 'BEFORE'));
    expect(digest(b.text, 'AFTER')).toMatch(/^[0-9a-f]{64}$/);
  }
}, 900_000);

test('deployments check out from a mirror that is fetched incrementally and follows force-pushes', async () => {
  // A repository of its own, which no deployment fetched before.
  const mrepo = createProgramRepo('website');
  const outDir = await configure('mirror', { link: true, env: { GREETING: 'one' }, repo: mrepo });
  const first = await run('mirror');
  expect(first.text).toContain('git init -q --bare');
  const mirrorNames = () => readdirSync(join(sw.config.dataDir, 'git-mirrors')).filter((n) => n.endsWith('.git'));
  const mirrors = mirrorNames();

  // A new commit: fetched into the same mirror.
  const second = mrepo.commit({ 'extra.txt': 'two' });
  const next = await run('mirror');
  expect(next.text).toContain('Using the repository mirror');
  expect(next.text).not.toContain('git init -q --bare');
  expect(next.text).toContain(`Checked out ${second}`);
  expect(mirrorNames()).toEqual(mirrors);

  // A commit the mirror has needs no fetch.
  await configure('mirror-pinned', { link: true, commit: second, repo: mrepo });
  const pinned = await run('mirror-pinned');
  expect(pinned.text).toContain(`Commit ${second} is already in the mirror; nothing to fetch`);

  // main is force-pushed to a commit that does not descend from the mirror's.
  const work = mkdtempSync(join(tmpdir(), 'stackwright-force-'));
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: work, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } }).toString().trim();
  git('clone', '-q', mrepo.bare, '.');
  git('reset', '-q', '--hard', git('rev-list', '--max-parents=0', 'HEAD'));
  writeFileSync(join(work, 'forced.txt'), 'forced');
  git('add', '-A');
  git('commit', '-qm', 'rewritten');
  git('push', '-q', '--force', 'origin', 'HEAD:main');
  const forced = git('rev-parse', 'HEAD');
  const after = await run('mirror');
  expect(after.text).toContain(`Checked out ${forced}`);
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(true);
}, 600_000);

const interval = (d: any) => {
  const steps = d.jobs[0].steps.filter((s: any) => s.started);
  return [Math.min(...steps.map((s: any) => Date.parse(s.started))), Math.max(...steps.map((s: any) => Date.parse(s.lastUpdated)))];
};

test('deployments of two stacks overlap; two of one stack never do', async () => {
  await configure('par-a', { link: true, env: { CREATE_DELAY_MS: '6000' } });
  await configure('par-b', { link: true, env: { CREATE_DELAY_MS: '6000' } });
  const [a, b, a2] = [await deploy('par-a'), await deploy('par-b'), await deploy('par-a')];
  const [da, db, da2] = await Promise.all([a, b, a2].map((x, i) => waitForDeployment(sw, stackPath(i === 1 ? 'par-b' : 'par-a'), x.id, 400_000)));
  for (const d of [da, db, da2]) expect(d.status).toBe('succeeded');
  const [ia, ib, ia2] = [interval(da), interval(db), interval(da2)];
  // Stacks a and b ran at the same time.
  expect(ia[0]).toBeLessThan(ib[1]);
  expect(ib[0]).toBeLessThan(ia[1]);
  // The second deployment of a started after the first had ended.
  expect(ia2[0]).toBeGreaterThanOrEqual(ia[1]);
}, 600_000);
