import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { cloneRepo, createProgramRepo, type TestRepo, type WorkingCopy } from '../helpers/repo';
import { newOutDir, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { startFakeGitHost, type FakeGitHost } from '../helpers/fake-git-host';
import { githubExample, retarget } from '../helpers/webhook-examples';
import { resolveTools } from '../../src/tools';
import { stackPassphrase } from '../../src/state/stack-passphrase';
import { stackStateDir } from '../../src/state/backend-url';

// A pull request's life through signed webhooks (real payloads from @octokit/webhooks-examples),
// the real API, Temporal, git and pulumi; GitHub's API is a local fake recording statuses and comments.
const GITHUB_SECRET = 'gh-webhook-secret-0123456789';
const GITHUB_TOKEN = 'ghp_review_token_0123456789';
const org = `rv${Date.now().toString(36)}`;
const REPOSITORY = 'Codertocat/Hello-World';
const SECRET_TOKEN = 'review-token-s3cr3t-value';
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;

// The program reads the stack's config; deleting a file fails once while a marker file exists.
const PROGRAM = `
import * as pulumi from '@pulumi/pulumi';
import * as fs from 'fs';
import * as path from 'path';
interface Inputs { path: string; content: string; failDeleteOnce: string }
const provider: pulumi.dynamic.ResourceProvider = {
  async create(i: Inputs) { fs.mkdirSync(path.dirname(i.path), { recursive: true }); fs.writeFileSync(i.path, i.content); return { id: i.path, outs: i }; },
  async diff(_id: string, o: Inputs, n: Inputs) { return { changes: o.content !== n.content }; },
  async update(_id: string, _o: Inputs, n: Inputs) { fs.writeFileSync(n.path, n.content); return { outs: n }; },
  async delete(id: string, p: Inputs) {
    if (fs.existsSync(p.failDeleteOnce)) { fs.rmSync(p.failDeleteOnce); throw new Error('cannot delete this time'); }
    fs.rmSync(id, { force: true });
  },
};
class File extends pulumi.dynamic.Resource {
  constructor(name: string, args: { [K in keyof Inputs]: pulumi.Input<Inputs[K]> }) { super(provider, name, args); }
}
const config = new pulumi.Config();
const dir = path.join(process.env.OUT_DIR!, pulumi.getStack());
const failDeleteOnce = path.join(process.env.OUT_DIR!, 'fail-delete-once');
new File('greeting', { path: path.join(dir, 'greeting.txt'), content: config.require('greeting') + ' at ' + (process.env.PULUMI_CI_PULL_REQUEST_SHA ?? ''), failDeleteOnce });
new File('token', { path: path.join(dir, 'token.txt'), content: config.requireSecret('token'), failDeleteOnce });
export const url = 'https://' + pulumi.getStack() + '.review.example';
`;

let sw: Stackwright;
let host: FakeGitHost;
let repo: TestRepo;
let work: WorkingCopy;
let outDir: string;

/** Pulumi.pr.yaml as `pulumi config set` writes it for the template stack (its own passphrase). */
async function templateConfig(): Promise<string> {
  const env = {
    ...process.env,
    PATH: `${join(resolveTools().pulumiRoot, 'bin')}:${process.env.PATH}`,
    PULUMI_BACKEND_URL: `file://${mkdtempSync(join(tmpdir(), 'rv-backend-'))}`,
    PULUMI_HOME: mkdtempSync(join(tmpdir(), 'rv-home-')),
    PULUMI_CONFIG_PASSPHRASE: stackPassphrase(sw.config.secretsKey, { org, project: 'website', stack: 'pr' }),
    PULUMI_SKIP_UPDATE_CHECK: 'true',
  };
  // Not execFileSync: Stackwright runs in this process, and a blocked event loop breaks its connections.
  const pulumi = (...args: string[]) => promisify(execFile)('pulumi', [...args, '--non-interactive'], { cwd: work.dir, env });
  await pulumi('stack', 'init', 'pr');
  await pulumi('config', 'set', 'greeting', 'hello review', '--stack', 'pr');
  await pulumi('config', 'set', '--secret', 'token', SECRET_TOKEN, '--stack', 'pr');
  return readFileSync(join(work.dir, 'Pulumi.pr.yaml'), 'utf8');
}

async function github(payload: unknown, delivery = randomUUID()) {
  const body = JSON.stringify(payload);
  const send = async () =>
    fetch(`${sw.url}/api/webhooks/github`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'pull_request', 'X-GitHub-Delivery': delivery, 'X-Hub-Signature-256': await sign(GITHUB_SECRET, body) },
      body,
    });
  // A kept-alive connection the loaded server has just closed fails before the request is sent: once more.
  const res = await send().catch(send);
  return { status: res.status, body: (await res.json()) as any };
}

const review = `${org}/website/pr-pr-2`;
const reviewPath = `/api/stacks/${review}`;
const get = (path: string) => sw.api(path).catch(() => sw.api(path));
const deploymentsOf = async () => (await get(`${reviewPath}/deployments?pageSize=100&asc=true`)).body.deployments as any[];
const listed = async () => (await get(`/api/orgs/${org}/review-stacks`)).body.reviewStacks as any[];

async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  host = await startFakeGitHost();
  sw = await startStackwright({ STACKWRIGHT_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET, STACKWRIGHT_GITHUB_API_URL: host.githubUrl, STACKWRIGHT_GITHUB_TOKEN: GITHUB_TOKEN });
  repo = createProgramRepo('website');
  work = cloneRepo(repo.url, 'stackwright-rv-');
  outDir = newOutDir();
});
afterAll(async () => {
  await sw?.stop();
  await host?.close();
});

test('a pull request gets a review stack from its template: created with its config, updated, destroyed (retried) and removed once', async () => {
  const settings = (extra: object) => ({
    sourceContext: { git: { repoUrl: repo.url, branch: 'master' } },
    operationContext: { environmentVariables: { OUT_DIR: outDir }, preRunCommands: [linkDependencies], options: { skipInstallDependencies: true } },
    gitHub: { repository: REPOSITORY, deployCommits: false, previewPullRequests: false, pullRequestTemplate: true, ...extra },
  });
  expect((await sw.api(`/api/stacks/${org}/website/pr/deployments/settings`, { method: 'POST', body: settings({ reviewStackTtlHours: 48 }) })).status).toBe(200);
  // A second template of the branch, gated by a label the pull request does not carry.
  expect((await sw.api(`/api/stacks/${org}/website/gated/deployments/settings`, { method: 'POST', body: settings({ reviewStackLabels: ['deploy-me'] }) })).status).toBe(200);
  work.commitOn('master', { 'index.ts': PROGRAM });
  const config = await templateConfig();
  expect(config).toMatch(/secure: v1:/);

  const opened = githubExample('pull_request', (p) => p.action === 'opened');
  const first = work.commitOn(opened.pull_request.head.ref, { 'Pulumi.pr.yaml': config, 'feature.txt': 'one' });
  const r1 = await github(retarget(opened, { cloneUrl: repo.url, commits: { [opened.pull_request.head.sha]: first } }));
  expect(r1.status).toBe(202);
  expect(r1.body.reviewStacks).toEqual([{ stack: review, action: 'push', result: 'signalled' }]);
  expect(r1.body.skipped).toContainEqual({ stack: `${org}/website/gated`, reason: 'the pull request carries none of the labels deploy-me' });

  // Opened: the stack exists with the template's settings and config, and its resources.
  const [u1] = await eventually('first update', async () => {
    const ds = await deploymentsOf();
    return ds?.length ? ds : undefined;
  });
  expect((await waitForDeployment(sw, reviewPath, u1.id)).status).toBe('succeeded');
  expect(readFileSync(join(outDir, 'pr-pr-2', 'greeting.txt'), 'utf8')).toBe(`hello review at ${first}`);
  expect(readFileSync(join(outDir, 'pr-pr-2', 'token.txt'), 'utf8')).toBe(SECRET_TOKEN);
  const stored = (await sw.api(`${reviewPath}/deployments/settings`)).body;
  expect(stored).toMatchObject({ source: 'github-review-stack', sourceContext: { git: { branch: 'changes' } }, gitHub: { pullRequestTemplate: false, deployPullRequest: 2 } });
  expect((await sw.api(`/api/stacks/${org}/website/pr/deployments/settings`)).body.source).toBeUndefined();

  // A labelled event for the same commit changes nothing; a push updates.
  const labeled = githubExample('pull_request', (p) => p.action === 'labeled');
  expect((await github(retarget(labeled, { cloneUrl: repo.url, commits: { [labeled.pull_request.head.sha]: first } }))).body.reviewStacks).toHaveLength(1);
  const sync = githubExample('pull_request', (p) => p.action === 'synchronize');
  const second = work.commitOn(opened.pull_request.head.ref, { 'feature.txt': 'two' });
  await github(retarget(sync, { cloneUrl: repo.url, commits: { [sync.before]: first, [sync.pull_request.head.sha]: second } }));
  const u2 = await eventually('second update', async () => (await deploymentsOf()).find((d) => d.version === 2));
  expect((await waitForDeployment(sw, reviewPath, u2.id)).status).toBe('succeeded');
  expect(u2.pulumiOperation).toBe('update');
  expect(readFileSync(join(outDir, 'pr-pr-2', 'greeting.txt'), 'utf8')).toBe(`hello review at ${second}`);
  expect(await listed()).toEqual([
    expect.objectContaining({ stack: 'pr-pr-2', template: 'pr', state: 'deploying', pullRequest: { provider: 'github', repository: REPOSITORY, number: 2, headBranch: 'changes', commit: second } }),
  ]);
  expect((await listed())[0].lastDeployment).toMatchObject({ id: u2.id, operation: 'update', status: 'succeeded' });

  // Closed (twice, and once more as a redelivery): the first destroy fails, the retry succeeds, the stack goes.
  writeFileSync(join(outDir, 'fail-delete-once'), '');
  const closed = retarget(githubExample('pull_request', (p) => p.action === 'closed'), { cloneUrl: repo.url, commits: {} });
  closed.pull_request.head.sha = second;
  const delivery = randomUUID();
  // Every template of the branch hears of the close; the gated one has no review stack.
  const gated = { stack: `${org}/website/gated-pr-2`, action: 'close', result: 'no review stack' };
  const sorted = (r: { body: { reviewStacks: { stack: string }[] } }) => r.body.reviewStacks.sort((a, b) => a.stack.localeCompare(b.stack));
  expect(sorted(await github(closed, delivery))).toEqual([gated, { stack: review, action: 'close', result: 'signalled' }]);
  expect((await github(closed, delivery)).body.message).toBe(`delivery ${delivery} was already received`);
  expect(sorted(await github(closed))).toEqual([gated, { stack: review, action: 'close', result: 'signalled' }]);
  const workflow = sw.temporal.workflow.getHandle(`review/${org}/website/pr/github/${REPOSITORY.toLowerCase()}/2`);
  expect(await workflow.result()).toEqual({ reason: 'closed', destroyAttempts: 2 });
  const [removed] = await listed();
  expect(removed.state).toBe('removed');
  expect(removed.message).toBe('Removed: the pull request was closed.');

  const all = await deploymentsOf();
  expect(all.map((d) => [d.pulumiOperation, d.status])).toEqual([
    ['update', 'succeeded'],
    ['update', 'succeeded'],
    ['destroy', 'failed'],
    ['destroy', 'succeeded'],
  ]);
  expect(existsSync(join(outDir, 'pr-pr-2', 'greeting.txt'))).toBe(false);
  expect((await sw.api(`${reviewPath}/deployments/settings`)).status).toBe(404);
  expect(existsSync(stackStateDir(sw.config.dataDir, { org, project: 'website', stack: 'pr-pr-2' }))).toBe(false);
  // A close that comes after the end finds no review stack.
  expect(sorted(await github(closed))).toEqual([gated, { stack: review, action: 'close', result: 'no review stack' }]);
  expect((await deploymentsOf()).length).toBe(4);

  // Reported: a status per deployment, one sticky comment ending with the removal; the secret nowhere.
  const statuses = host.calls.filter((c) => c.method === 'POST' && c.path.includes('/statuses/')).map((c) => [c.path.split('/').at(-1), c.body.state, c.body.context]);
  expect(statuses).toEqual(expect.arrayContaining([[first, 'success', `stackwright/${review}`], [second, 'success', `stackwright/${review}`], [second, 'failure', `stackwright/${review}`]]));
  const comments = host.comments.get(`${REPOSITORY}#2`)!;
  expect(comments).toHaveLength(1);
  expect(comments[0].body.startsWith(`<!-- stackwright:${review} -->`)).toBe(true);
  expect(comments[0].body).toContain(`Review stack \`${review}\` removed`);
  const edits = host.calls.filter((c) => c.path.includes('/issues/')).map((c) => c.body?.body ?? '').join('\n');
  expect(edits).toContain('url: "https://pr-pr-2.review.example"');
  expect(edits).toContain('Destroy of');
  expect(JSON.stringify(host.calls)).not.toContain(SECRET_TOKEN);
});
