import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { sign } from '@octokit/webhooks-methods';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { readAllLogs, startStackwright, waitForDeployment, type Stackwright, newOutDir } from '../helpers/stackwright';
import { startFakeGitHost, type FakeGitHost } from '../helpers/fake-git-host';
import { githubExample, retarget } from '../helpers/webhook-examples';
import { signGenericVcs } from '../../src/vcs/signatures';

// Signed webhooks through the real API, real Temporal, real git and pulumi; GitHub itself is a
// local fake that records the statuses and comments Stackwright sends back.
const GITHUB_SECRET = 'gh-webhook-secret-0123456789';
const GENERIC_SECRET = 'generic-vcs-secret-0123456789';
const GITLAB_TOKEN = 'gitlab-webhook-token-0123456789';
const GITHUB_TOKEN = 'ghp_reporting_token_canary_42';
const MAX_BYTES = 256 * 1024;
const org = `wh${Date.now().toString(36)}`;
// The examples' repository; payloads are changed only in clone URL and commit ids.
const REPOSITORY = 'Codertocat/Hello-World';

let sw: Stackwright;
let host: FakeGitHost;
let repo: TestRepo;
let work: string;

const git = (...args: string[]) =>
  execFileSync('git', args, {
    cwd: work,
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  })
    .toString()
    .trim();

/** Commits a file on `branch` (created from main if new) and pushes it to the bare repository; returns the sha. */
function commitOn(branch: string, file: string, content: string): string {
  const exists = execFileSync('git', ['branch', '--list', '--', branch], { cwd: work }).toString().trim() !== '';
  if (exists) git('checkout', '-q', branch, '--');
  else git('checkout', '-q', '-b', branch, 'origin/main');
  execFileSync('sh', ['-c', 'mkdir -p "$(dirname "$1")" && printf %s "$2" > "$1"', 'sh', join(work, file), content]);
  git('add', '-A');
  git('commit', '-qm', `change ${file}`);
  git('push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
  return git('rev-parse', 'HEAD');
}

const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;

async function saveSettings(stack: string, body: object): Promise<void> {
  const res = await sw.api(`${stackPath(stack)}/deployments/settings`, { method: 'POST', body });
  expect(res.status).toBe(200);
}

async function post(path: string, body: string, headers: Record<string, string>) {
  const res = await fetch(sw.url + path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
  return { status: res.status, body: (await res.json()) as any };
}

/**
 * node:http rather than fetch: the server answers an oversized body before reading it all, and
 * fetch reports the early answer as a failed request instead of returning it.
 */
function rawPost(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(sw.url + path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(body);
  });
}

async function github(event: string, payload: unknown, o: { delivery?: string; secret?: string } = {}) {
  const body = JSON.stringify(payload);
  return post('/api/webhooks/github', body, {
    'X-GitHub-Event': event,
    'X-GitHub-Delivery': o.delivery ?? randomUUID(),
    'X-Hub-Signature-256': await sign(o.secret ?? GITHUB_SECRET, body),
  });
}

const countDeployments = async () => Number((await sw.store.db.selectFrom('deployments').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const statusesFor = (sha: string) => host.calls.filter((c) => c.method === 'POST' && c.path.endsWith(`/statuses/${sha}`)).map((c) => c.body);

beforeAll(async () => {
  host = await startFakeGitHost();
  sw = await startStackwright({
    STACKWRIGHT_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
    STACKWRIGHT_GENERIC_VCS_SECRET: GENERIC_SECRET,
    STACKWRIGHT_GITLAB_WEBHOOK_TOKEN: GITLAB_TOKEN,
    STACKWRIGHT_WEBHOOK_MAX_BYTES: String(MAX_BYTES),
    STACKWRIGHT_GITHUB_API_URL: host.githubUrl,
    STACKWRIGHT_GITHUB_TOKEN: GITHUB_TOKEN,
  });
  repo = createProgramRepo('website');
  work = mkdtempSync(join(tmpdir(), 'stackwright-wh-'));
  execFileSync('git', ['clone', '-q', repo.url, work]);
});
afterAll(async () => {
  await sw?.stop();
  await host?.close();
});

describe('refusals', () => {
  test('unsigned, wrongly signed, oversized and malformed requests start nothing', async () => {
    const payload = githubExample('push', (p) => p.ref === 'refs/heads/master');
    const body = JSON.stringify(payload);
    const headers = { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID() };

    expect((await post('/api/webhooks/github', body, headers)).status).toBe(401);
    expect((await github('push', payload, { secret: 'not-the-configured-secret' })).status).toBe(401);
    const otherBody = await sign(GITHUB_SECRET, `${body} `);
    expect((await post('/api/webhooks/github', body, { ...headers, 'X-Hub-Signature-256': otherBody })).body).toEqual({ code: 401, message: 'missing or invalid webhook signature' });
    // The API token is not a way in either.
    expect((await post('/api/webhooks/github', body, { ...headers, Authorization: `token ${sw.token}` })).status).toBe(401);

    for (const token of [undefined, '', `${GITLAB_TOKEN}x`, GITLAB_TOKEN.slice(1)]) {
      const gitlab = await post('/api/webhooks/gitlab', '{}', { 'X-Gitlab-Event': 'Push Hook', ...(token !== undefined && { 'X-Gitlab-Token': token }) });
      expect(gitlab.status).toBe(401);
    }

    const generic = JSON.stringify({ event: 'push', commit: 'a'.repeat(40), branch: 'main', repoUrl: repo.url });
    expect((await post('/api/webhooks/generic-vcs', generic, { 'X-Generic-VCS-Signature': signGenericVcs('wrong-secret-0123456789', generic) })).status).toBe(401);
    expect((await post('/workflow/generic-vcs', generic, {})).status).toBe(401);

    const huge = JSON.stringify({ ...payload, padding: 'x'.repeat(MAX_BYTES) });
    const tooBig = await rawPost('/api/webhooks/github', huge, { ...headers, 'X-Hub-Signature-256': await sign(GITHUB_SECRET, huge) });
    expect(tooBig).toEqual({ status: 413, body: { code: 413, message: `webhook payloads are limited to ${MAX_BYTES} bytes` } });

    const notJson = 'push=yes';
    const bad = await post('/api/webhooks/github', notJson, { ...headers, 'X-Hub-Signature-256': await sign(GITHUB_SECRET, notJson) });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: '(body)', message: 'the request body is not valid JSON' }]);

    const malformed = await github('push', { ...payload, after: '$(reboot)', repository: {} });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['after', 'repository.full_name']);

    const genericMissing = JSON.stringify({ event: 'push', commit: 'a'.repeat(40), repoUrl: repo.url });
    const missing = await post('/api/webhooks/generic-vcs', genericMissing, { 'X-Generic-VCS-Signature': signGenericVcs(GENERIC_SECRET, genericMissing) });
    expect(missing.status).toBe(400);
    expect(missing.body.errors).toEqual([{ field: 'branch', message: 'branch is required for push' }]);

    // Signed and well-formed, but no stack deploys from this repository.
    const unknown = await github('push', payload);
    expect(unknown).toEqual({ status: 202, body: { message: `no stack deploys from ${REPOSITORY}`, deployments: [] } });
    expect((await github('ping', githubExample('ping'))).status).toBe(202);

    // Every other route still wants the API token, and keeps its own 1 MiB limit.
    expect((await sw.api(`${stackPath('any')}/deployments/settings`, { token: null })).status).toBe(401);
    expect(await countDeployments()).toBe(0);
  });
});

describe('GitHub', () => {
  test('a push deploys the stack on that branch once, however often it is delivered; excluded paths start nothing', async () => {
    const outDir = newOutDir();
    const common = { sourceContext: { git: { repoUrl: repo.url, branch: 'refs/heads/master' } } };
    await saveSettings('push', {
      ...common,
      operationContext: { environmentVariables: { OUT_DIR: outDir } },
      gitHub: { repository: REPOSITORY, deployCommits: true },
    });
    await saveSettings('docs-excluded', { ...common, gitHub: { repository: REPOSITORY, deployCommits: true, paths: ['!**/*.md'] } });

    const example = githubExample('push', (p) => p.ref === 'refs/heads/master');
    const sha = commitOn('master', 'README.md', 'only docs changed');
    const payload = retarget(example, { cloneUrl: repo.url, commits: { [example.after]: sha } });
    expect(payload.commits.flatMap((c: { added: string[] }) => c.added)).toEqual(['README.md']);

    const delivery = randomUUID();
    const [a, b] = await Promise.all([github('push', payload, { delivery }), github('push', payload, { delivery })]);
    const again = await github('push', payload, { delivery });
    const started = [a, b].filter((r) => r.status === 202);
    expect(started).toHaveLength(1);
    expect([a, b, again].filter((r) => r.status === 200).map((r) => r.body.message)).toEqual([
      `delivery ${delivery} was already received`,
      `delivery ${delivery} was already received`,
    ]);
    expect(started[0].body.deployments).toEqual([{ stack: `${org}/website/push`, id: expect.any(String), version: 1, operation: 'update' }]);
    expect(started[0].body.skipped).toEqual([{ stack: `${org}/website/docs-excluded`, reason: 'no changed file passes the path filters' }]);

    const d = await waitForDeployment(sw, stackPath('push'), started[0].body.deployments[0].id);
    expect(d.status).toBe('succeeded');
    expect(d.initiator).toBe('webhook');
    expect(d.requestedBy.name).toBe('Codertocat');
    expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('hello from push');
    const text = (await readAllLogs(sw, stackPath('push'), d.id)).map((l) => l.line ?? '').join('');
    expect(text).toContain(`Checked out ${sha}`);
    expect(await countDeployments()).toBe(1);

    await eventually(() => statusesFor(sha).length === 2);
    expect(statusesFor(sha)).toEqual([
      { state: 'pending', context: `stackwright/${org}/website/push`, description: 'Update running (deployment 1)', target_url: expect.stringContaining(`/deployments/${d.id}/logs`) },
      { state: 'success', context: `stackwright/${org}/website/push`, description: 'Update succeeded: 2 to create', target_url: expect.any(String) },
    ]);
    expect(host.calls.every((c) => c.authorization === `token ${GITHUB_TOKEN}`)).toBe(true);
    expect(host.comments.size).toBe(0);
  });

  test('pull requests preview their head, report a status and one sticky comment; a newer push supersedes the older preview', async () => {
    await saveSettings('pr', {
      sourceContext: { git: { repoUrl: repo.url, branch: 'master' } },
      operationContext: { preRunCommands: ['echo "previewing $PULUMI_CI_PULL_REQUEST_NUMBER at $PULUMI_CI_PULL_REQUEST_SHA"'] },
      gitHub: { repository: REPOSITORY, previewPullRequests: true },
    });
    // A stack filtering paths the pull request does not touch: its files come from the API.
    await saveSettings('pr-docs', {
      sourceContext: { git: { repoUrl: repo.url, branch: 'master' } },
      gitHub: { repository: REPOSITORY, previewPullRequests: true, paths: ['docs/**'] },
    });
    const opened = githubExample('pull_request', (p) => p.action === 'opened');
    host.pullFiles.set(`${REPOSITORY}#${opened.number}`, ['feature.txt']);
    const sync = githubExample('pull_request', (p) => p.action === 'synchronize');
    const first = commitOn(opened.pull_request.head.ref, 'feature.txt', 'one');
    const second = commitOn(opened.pull_request.head.ref, 'feature.txt', 'two');

    const r1 = await github('pull_request', retarget(opened, { cloneUrl: repo.url, commits: { [opened.pull_request.head.sha]: first } }));
    expect(r1.status).toBe(202);
    const [p1] = r1.body.deployments;
    expect(r1.body.deployments).toHaveLength(1);
    expect(r1.body.skipped).toContainEqual({ stack: `${org}/website/pr-docs`, reason: 'no changed file passes the path filters' });
    expect(host.calls.filter((c) => c.path === `/github/repos/${REPOSITORY}/pulls/${opened.number}/files`)).toHaveLength(1);
    expect(p1).toMatchObject({ stack: `${org}/website/pr`, operation: 'preview' });
    const r2 = await github('pull_request', retarget(sync, { cloneUrl: repo.url, commits: { [sync.before]: first, [sync.pull_request.head.sha]: second } }));
    const [p2] = r2.body.deployments;

    const d2 = await waitForDeployment(sw, stackPath('pr'), p2.id);
    expect([d2.status, d2.message]).toEqual(['succeeded', undefined]);
    expect((await readAllLogs(sw, stackPath('pr'), p2.id)).map((l) => l.line ?? '').join('')).toContain(`previewing ${sync.number} at ${second}`);

    await eventually(() => statusesFor(second).some((s) => s.state === 'success'));
    expect(statusesFor(second).map((s) => [s.state, s.description])).toEqual([
      ['pending', `Preview running (deployment ${p2.version})`],
      ['success', 'Preview succeeded: 2 to create'],
    ]);
    // The comment is written after the status.
    await eventually(() => (host.comments.get(`${REPOSITORY}#${sync.number}`)?.length ?? 0) > 0);
    const comments = host.comments.get(`${REPOSITORY}#${sync.number}`)!;
    expect(comments).toHaveLength(1);
    const body = comments[0].body;
    expect(body.startsWith(`<!-- stackwright:${org}/website/pr -->`)).toBe(true);
    expect(body).toContain(`Preview of \`${org}/website/pr\` succeeded`);
    expect(body).toContain(`Commit \`${second.slice(0, 12)}\``);
    expect(body).toContain('| create | 2 |');
    expect(body).toContain('program output: the api secret is undefined');
    expect(body).toContain(`[logs](${sw.config.publicUrl}/api/stacks/${org}/website/pr/deployments/${p2.id}/logs)`);
    expect(JSON.stringify(host.calls)).not.toContain(GITHUB_SECRET);

    // The first preview was still queued or running when the second arrived.
    const d1 = await waitForDeployment(sw, stackPath('pr'), p1.id);
    expect([d1.status, d1.message]).toEqual(['skipped', `Superseded by deployment ${p2.version}.`]);
    await eventually(() => statusesFor(first).some((s) => s.state !== 'pending'));
    expect(statusesFor(first).at(-1)).toMatchObject({ state: 'success', description: `Superseded by deployment ${p2.version}.` });
  });
});

// GitLab publishes no payload package: these carry the documented fields Stackwright reads.
describe('GitLab', () => {
  test('push and merge request hooks are matched to stacks; filters and branches decide, nothing else starts', async () => {
    await saveSettings('gl', {
      sourceContext: { git: { repoUrl: 'https://gitlab.example.com/group/infra.git', branch: 'main' } },
      vcs: { provider: 'gitlab', repository: 'Group/Infra', deployCommits: true, previewPullRequests: true, paths: ['infra/**'] },
    });
    const project = { path_with_namespace: 'group/infra', git_http_url: 'https://gitlab.example.com/group/infra.git', default_branch: 'main' };
    const send = (event: string, payload: object) =>
      post('/api/webhooks/gitlab', JSON.stringify(payload), { 'X-Gitlab-Event': event, 'X-Gitlab-Token': GITLAB_TOKEN, 'X-Gitlab-Event-UUID': randomUUID() });
    const sha = 'b'.repeat(40);
    const push = { object_kind: 'push', ref: 'refs/heads/main', after: sha, checkout_sha: sha, project, commits: [{ added: [], modified: ['README.md'], removed: [] }], total_commits_count: 1 };
    expect((await send('Push Hook', push)).body).toEqual({
      message: 'no stack deploys this event',
      deployments: [],
      skipped: [{ stack: `${org}/website/gl`, reason: 'no changed file passes the path filters' }],
    });
    const mr = { object_kind: 'merge_request', project, object_attributes: { iid: 4, action: 'open', target_branch: 'develop', source_branch: 'f', last_commit: { id: sha } } };
    expect((await send('Merge Request Hook', mr)).body.skipped).toEqual([{ stack: `${org}/website/gl`, reason: 'pull request into develop, stack follows main' }]);
    const closed = { ...mr, object_attributes: { ...mr.object_attributes, action: 'close' } };
    expect(await send('Merge Request Hook', closed)).toEqual({ status: 202, body: { message: 'nothing to do: merge request close without new commits', deployments: [] } });
    expect((await send('Push Hook', { ...push, after: 'not-a-sha' })).body.errors).toEqual([{ field: 'after', message: 'must be a full hexadecimal commit id' }]);
    expect((await sw.api(`${stackPath('gl')}/deployments`)).body.total).toBe(0);
  });
});

describe('custom VCS', () => {
  test('shell metacharacters in the branch and the changed paths reach git and the program only as data', async () => {
    const outDir = newOutDir();
    const pwned = join(outDir, 'pwned');
    const branch = `deploy/$(touch\${IFS}${pwned});\`touch\${IFS}${pwned}\`|x&&y`;
    execFileSync('git', ['check-ref-format', `refs/heads/${branch}`]);
    await saveSettings('custom', {
      sourceContext: { git: { repoUrl: repo.url, branch } },
      operationContext: { environmentVariables: { OUT_DIR: outDir }, preRunCommands: ['echo "branch is $PULUMI_CI_BRANCH_NAME"'] },
      vcs: { provider: 'custom', deployCommits: true, paths: ['infra/**'] },
    });
    const file = `infra/$(touch ${pwned}); rm -rf ~.ts`;
    const sha = commitOn(branch, file, 'x');
    const send = (changedFiles: string[]) => {
      const body = JSON.stringify({ event: 'push', commit: sha, branch, repoUrl: `${repo.url}/`, sender: 'bot', changedFiles });
      return post('/api/webhooks/generic-vcs', body, { 'X-Generic-VCS-Signature': signGenericVcs(GENERIC_SECRET, body) });
    };
    // Only files outside the filter: nothing starts.
    expect((await send(['README.md'])).body).toMatchObject({ deployments: [], skipped: [{ stack: `${org}/website/custom`, reason: 'no changed file passes the path filters' }] });

    const res = await send([file]);
    expect(res.status).toBe(202);
    const d = await waitForDeployment(sw, stackPath('custom'), res.body.deployments[0].id);
    expect(d.status).toBe('succeeded');
    const text = (await readAllLogs(sw, stackPath('custom'), d.id)).map((l) => l.line ?? '').join('');
    expect(text).toContain(`branch is ${branch}`);
    expect(text).toContain(`Checked out ${sha}`);
    expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('hello from custom');
    expect(existsSync(pwned)).toBe(false);
    // No token for a custom VCS: nothing is reported anywhere.
    expect(statusesFor(sha)).toEqual([]);
  });
});

async function eventually(probe: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}
