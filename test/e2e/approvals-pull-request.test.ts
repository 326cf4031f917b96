import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { cloneRepo, createProgramRepo, type TestRepo, type WorkingCopy } from '../helpers/repo';
import { newOutDir, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { startFakeGitHost, type FakeGitHost } from '../helpers/fake-git-host';
import { githubExample, retarget } from '../helpers/webhook-examples';
import { stepLog, waitForStatus } from '../helpers/approvals';

// Deciding from pull (merge) request comments: review stacks whose template requires approval wait
// after their preview; `/stackwright approve|reject` comments, signed webhooks, the git host's answer
// about the author's access (a local fake of GitHub's and GitLab's APIs), real Temporal, git and pulumi.
const GITHUB_SECRET = 'gh-webhook-secret-0123456789';
const GITLAB_TOKEN = 'gl-webhook-token-0123456789';
const org = `aprq${Date.now().toString(36)}`;
const REPOSITORY = 'Codertocat/Hello-World';
const GL_PROJECT = { id: 77, path_with_namespace: 'group/infra' };
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;
const ghReview = `/api/stacks/${org}/website/pr-pr-2`;
const glReview = `/api/stacks/${org}/website/glpr-pr-5`;

let sw: Stackwright;
let host: FakeGitHost;
let repo: TestRepo;
let work: WorkingCopy;
let outDir: string;

async function post(path: string, headers: Record<string, string>, body: string) {
  const send = () => fetch(`${sw.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
  // A kept-alive connection the loaded server has just closed fails before the request is sent: once more.
  const res = await send().catch(send);
  return { status: res.status, body: (await res.json()) as any };
}

async function github(event: string, payload: unknown) {
  const body = JSON.stringify(payload);
  return post('/api/webhooks/github', { 'X-GitHub-Event': event, 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': await sign(GITHUB_SECRET, body) }, body);
}

const gitlab = (event: string, payload: unknown) => post('/api/webhooks/gitlab', { 'X-Gitlab-Event': event, 'X-Gitlab-Token': GITLAB_TOKEN, 'X-Gitlab-Event-UUID': randomUUID() }, JSON.stringify(payload));

/** A new comment on pull request 2, from a real issue_comment payload. */
function prComment(login: string, text: string) {
  const p = githubExample('issue_comment', (e) => e.action === 'created');
  p.issue.number = 2;
  p.issue.pull_request = { url: `https://api.github.com/repos/${REPOSITORY}/pulls/2` };
  p.comment.body = text;
  p.comment.user.login = login;
  p.sender.login = login;
  return p;
}

/** A note on merge request 5 (GitLab's Note Hook, the fields its webhook documentation lists). */
const mrNote = (user: { id: number; username: string }, note: string) => ({
  object_kind: 'note',
  user: { ...user, name: user.username },
  project_id: GL_PROJECT.id,
  project: GL_PROJECT,
  object_attributes: { id: Math.floor(Math.random() * 1e6), note, noteable_type: 'MergeRequest', action: 'create' },
  merge_request: { iid: 5, source_branch: 'gl-feature', target_branch: 'master' },
});

const templateSettings = (block: object) => ({
  sourceContext: { git: { repoUrl: repo.url, branch: 'master' } },
  operationContext: { environmentVariables: { OUT_DIR: outDir }, preRunCommands: [linkDependencies], options: { skipInstallDependencies: true, requireApproval: {} } },
  ...block,
});

const deploymentsOf = async (path: string) => ((await sw.api(`${path}/deployments?pageSize=100&asc=true`)).body.deployments ?? []) as any[];
async function nthDeployment(path: string, n: number): Promise<any> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
    const d = (await deploymentsOf(path))[n - 1];
    if (d) return d;
  }
  throw new Error(`no deployment ${n} of ${path}`);
}

const repliesOn = (key: string) => (host.comments.get(key) ?? []).map((c) => c.body).filter((b) => b.startsWith('Stackwright: `/stackwright'));
const greeting = () => readFileSync(join(outDir, 'hello.txt'), 'utf8');

let ghFirst: string;
let ghHead: string;
let glFirst: string;

beforeAll(async () => {
  host = await startFakeGitHost();
  host.githubPermissions.set('Codertocat', 'admin').set('octo-writer', 'write').set('octo-maintainer', 'maintain').set('octo-reader', 'read');
  host.gitlabAccess.set(30, 30).set(20, 20);
  sw = await startStackwright({
    STACKWRIGHT_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
    STACKWRIGHT_GITHUB_API_URL: host.githubUrl,
    STACKWRIGHT_GITHUB_TOKEN: 'ghp_approvals_token_0123456789',
    STACKWRIGHT_GITLAB_WEBHOOK_TOKEN: GITLAB_TOKEN,
    STACKWRIGHT_GITLAB_API_URL: host.gitlabUrl,
    STACKWRIGHT_GITLAB_TOKEN: 'glpat-approvals-token-0123',
  });
  repo = createProgramRepo('website');
  work = cloneRepo(repo.url, 'stackwright-aprq-');
  outDir = newOutDir();
  work.commitOn('master', {}, { allowEmpty: true });
  const save = (stack: string, block: object) => sw.api(`/api/stacks/${org}/website/${stack}/deployments/settings`, { method: 'POST', body: templateSettings(block) });
  expect((await save('pr', { gitHub: { repository: REPOSITORY, deployCommits: false, previewPullRequests: false, pullRequestTemplate: true } })).status).toBe(200);
  // The GitLab review stack writes elsewhere: its own OUT_DIR.
  const gl = templateSettings({ vcs: { provider: 'gitlab', repository: GL_PROJECT.path_with_namespace, pullRequestTemplate: true } });
  gl.operationContext.environmentVariables = { OUT_DIR: join(outDir, 'gl') };
  expect((await sw.api(`/api/stacks/${org}/website/glpr/deployments/settings`, { method: 'POST', body: gl })).status).toBe(200);

  // Both pull requests open at once: their previews overlap.
  const opened = githubExample('pull_request', (p) => p.action === 'opened');
  const head = (ghHead = work.commitOn(opened.pull_request.head.ref, { 'feature.txt': 'one' }));
  const glHead = work.commitOn('gl-feature', { 'feature.txt': 'gitlab' });
  expect((await github('pull_request', retarget(opened, { cloneUrl: repo.url, commits: { [opened.pull_request.head.sha]: head } }))).status).toBe(202);
  const mr = {
    object_kind: 'merge_request',
    user: { username: 'gl-author' },
    project: { ...GL_PROJECT, git_http_url: repo.url },
    object_attributes: { iid: 5, action: 'open', target_branch: 'master', source_branch: 'gl-feature', last_commit: { id: glHead }, source_project_id: 77, target_project_id: 77 },
  };
  expect((await gitlab('Merge Request Hook', mr)).status).toBe(202);
  ghFirst = (await nthDeployment(ghReview, 1)).id;
  glFirst = (await nthDeployment(glReview, 1)).id;
}, 180_000);

afterAll(async () => {
  await sw?.stop();
  await host?.close();
});

test('GitHub: a reader and the pull request author are refused, a writer approves from a comment and the plan is applied', async () => {
  const waiting = await waitForStatus(sw, ghReview, ghFirst, 'waiting-for-approval');
  expect(waiting.approval.changeSummary).toEqual({ create: 2 });
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(false);

  // Comments that are not commands, or not on a pull request, decide nothing.
  const chat = await github('issue_comment', prComment('octo-writer', 'looks fine to me'));
  expect(chat).toEqual({ status: 202, body: { message: 'nothing to do: a comment without a /stackwright command', deployments: [] } });
  const onIssue = prComment('octo-writer', '/stackwright approve');
  onIssue.issue.pull_request = undefined;
  expect((await github('issue_comment', onIssue)).body.message).toBe('nothing to do: a comment on an issue, not a pull request');

  const reader = await github('issue_comment', prComment('octo-reader', '/stackwright approve'));
  expect(reader.status).toBe(200);
  expect(reader.body.decisions).toEqual([expect.objectContaining({ id: ghFirst, result: 'refused', message: `github:octo-reader has no write access to ${REPOSITORY}` })]);
  // The sender of the opening event (the author) may not approve their own code.
  const author = await github('issue_comment', prComment('Codertocat', '/stackwright approve'));
  expect(author.body.decisions[0]).toMatchObject({ result: 'refused', message: '"github:Codertocat" requested this deployment and may not decide on it (allowSelfApproval is false)' });
  expect((await sw.api(`${ghReview}/deployments/${ghFirst}`)).body.status).toBe('waiting-for-approval');

  const writer = await github('issue_comment', prComment('octo-writer', '/stackwright approve\nchecked the preview'));
  expect(writer.body.decisions).toEqual([expect.objectContaining({ id: ghFirst, result: 'accepted', message: 'approved (1 of 1); the approved plan is applied now.' })]);
  const done = await waitForDeployment(sw, ghReview, ghFirst);
  expect(done.status).toBe('succeeded');
  expect(greeting()).toBe('hello from pr-pr-2');
  expect(done.approvals).toEqual([expect.objectContaining({ decision: 'approve', name: 'github:octo-writer', role: 'deployer', source: 'pull-request', comment: 'checked the preview' })]);
  const approvalStep = done.jobs[0].steps.findIndex((s: any) => s.name === 'Approval');
  expect(await stepLog(sw, ghReview, ghFirst, approvalStep)).toContain('Approved by github:octo-writer (pull request comment): checked the preview');

  // Each command got an answer on the pull request, saying what happened and why.
  const replies = repliesOn(`${REPOSITORY}#2`);
  expect(replies).toHaveLength(3);
  expect(replies[0]).toContain(`not accepted: github:octo-reader has no write access to ${REPOSITORY}`);
  expect(replies[1]).toContain('not accepted: "github:Codertocat" requested this deployment');
  expect(replies[2]).toContain(`${org}/website/pr-pr-2 deployment 1: approved (1 of 1); the approved plan is applied now.`);
  // The permission was asked of GitHub for each commenter.
  expect(host.calls.filter((c) => c.path.endsWith('/permission')).map((c) => c.path.split('/').at(-2))).toEqual(['octo-reader', 'Codertocat', 'octo-writer']);
  // Audited like the REST route's decisions, under the git host identity.
  const audit = (await sw.api(`/api/orgs/${org}/auditlogs?pageSize=100`)).body.auditLogEvents as any[];
  expect(audit).toContainEqual(expect.objectContaining({ event: 'deployment.approve', target: `${org}/website/pr-pr-2/deployments/${ghFirst}`, user: expect.objectContaining({ name: 'github:octo-writer' }) }));

  // Nothing waits any more: a late command is answered so.
  const late = await github('issue_comment', prComment('octo-writer', '/stackwright reject'));
  expect(late.body.decisions).toEqual([]);
  expect(repliesOn(`${REPOSITORY}#2`).at(-1)).toContain('no deployment of this pull request is waiting for approval');
}, 360_000);

test('GitHub: a maintainer rejects the next push from a comment; nothing of it is applied', async () => {
  const sync = githubExample('pull_request', (p) => p.action === 'synchronize');
  work.git('checkout', '-q', sync.pull_request.head.ref);
  const program = readFileSync(join(work.dir, 'index.ts'), 'utf8').replace('from ${pulumi.getStack()}', 'again from ${pulumi.getStack()}');
  const second = work.commitOn(sync.pull_request.head.ref, { 'index.ts': program });
  const res = await github('pull_request', retarget(sync, { cloneUrl: repo.url, commits: { [sync.before]: ghHead, [sync.pull_request.head.sha]: second } }));
  expect(res.status).toBe(202);
  const next = await nthDeployment(ghReview, 2);
  const waiting = await waitForStatus(sw, ghReview, next.id, 'waiting-for-approval');
  expect(waiting.approval.changeSummary).toMatchObject({ update: 1 });

  const reject = await github('issue_comment', prComment('octo-maintainer', '/stackwright reject not before the release'));
  expect(reject.body.decisions).toEqual([expect.objectContaining({ id: next.id, result: 'accepted', message: 'rejected; it ends failed and nothing is applied.' })]);
  const done = await waitForDeployment(sw, ghReview, next.id);
  expect([done.status, done.message]).toEqual(['failed', 'Rejected by github:octo-maintainer: not before the release']);
  expect(greeting()).toBe('hello from pr-pr-2');
}, 300_000);

test('GitLab: a Reporter is refused and a Developer approves from a merge request note', async () => {
  await waitForStatus(sw, glReview, glFirst, 'waiting-for-approval');
  const reporter = await gitlab('Note Hook', mrNote({ id: 20, username: 'gl-reporter' }, '/stackwright approve'));
  expect(reporter.body.decisions).toEqual([expect.objectContaining({ result: 'refused', message: 'gitlab:gl-reporter has no write access to group/infra' })]);
  const developer = await gitlab('Note Hook', mrNote({ id: 30, username: 'gl-dev' }, '/stackwright approve ship it'));
  expect(developer.body.decisions).toEqual([expect.objectContaining({ id: glFirst, result: 'accepted' })]);
  const done = await waitForDeployment(sw, glReview, glFirst);
  expect(done.status).toBe('succeeded');
  expect(readFileSync(join(outDir, 'gl', 'hello.txt'), 'utf8')).toBe('hello from glpr-pr-5');
  expect(done.approvals).toEqual([expect.objectContaining({ name: 'gitlab:gl-dev', source: 'pull-request', comment: 'ship it' })]);
  expect(host.calls.filter((c) => c.path.includes('/members/all/')).map((c) => c.path)).toEqual(['/gitlab/projects/77/members/all/20', '/gitlab/projects/77/members/all/30']);
  const notes = repliesOn(`${GL_PROJECT.id}!5`);
  expect(notes).toHaveLength(2);
  expect(notes[1]).toContain(`${org}/website/glpr-pr-5 deployment 1: approved (1 of 1)`);
  // A note that does not verify decides nothing.
  const forged = await fetch(`${sw.url}/api/webhooks/gitlab`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Gitlab-Event': 'Note Hook', 'X-Gitlab-Token': 'wrong-token-0123456789' },
    body: JSON.stringify(mrNote({ id: 30, username: 'gl-dev' }, '/stackwright approve')),
  });
  expect(forged.status).toBe(401);
}, 300_000);
