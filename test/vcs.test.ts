import { sign } from '@octokit/webhooks-methods';
import { filterMatches, pathsTrigger } from '../src/vcs/filters';
import { normalizeRepository, repositoryKeysOf } from '../src/vcs/repository';
import { parseGenericVcs, parseGitHub, parseGitLab } from '../src/vcs/payloads';
import { needsChangedFiles, planDeployments } from '../src/vcs/plan';
import { signGenericVcs, verifyGenericVcs, verifyGitHub, verifyGitLab } from '../src/vcs/signatures';
import { commentBody, commentMarker, statusDescription, OUTPUT_MAX_LINES } from '../src/vcs/report-text';
import { reportToGitHub } from '../src/vcs/github-report';
import { reportToGitLab } from '../src/vcs/gitlab-report';
import { isIgnored, type VcsEvent } from '../src/vcs/event';
import type { DeploymentInput } from '../src/shared/deployment';
import type { DeploymentSettings } from '../src/shared/settings';
import { githubExample } from './helpers/webhook-examples';
import { EnvConfig, PRIVATE_ENV, parseEnv } from '../src/config';
import { startFakeGitHost, type FakeGitHost } from './helpers/fake-git-host';
import { githubCommentEvent, gitlabCommentEvent, MAX_DECISION_COMMENT, parseCommand } from '../src/vcs/comment-event';
import { hasWriteAccess } from '../src/vcs/pull-request-access';

const SHA = 'c0ffee'.padEnd(40, '0');

describe('path and tag filters (contract §3.3-3.4)', () => {
  test.each([
    // no filters: everything
    [[], 'any/file.ts', true],
    // a glob must match the whole path; * stays in one segment, ** spans any
    [['infra/*'], 'infra/index.ts', true],
    [['infra/*'], 'infra/sub/index.ts', false],
    [['infra/**'], 'infra/sub/deep/index.ts', true],
    [['*.ts'], 'infra/index.ts', false],
    [['**/*.ts'], 'index.ts', true],
    [['infra'], 'infra/index.ts', false],
    [['**/{apps,libs}/**'], 'x/libs/y.ts', true],
    // only excludes: an implicit **
    [['!docs/**'], 'src/index.ts', true],
    [['!docs/**'], 'docs/guide.md', false],
    // exclude wins whatever the order, and nothing re-includes
    [['foo/**', '!foo/bar/**'], 'foo/bar/main.ts', false],
    [['!foo/**', 'foo/bar/**'], 'foo/bar/main.ts', false],
    [['foo/**', '!foo/bar/**'], 'foo/baz/main.ts', true],
    // dotfiles are paths like any other
    [['**'], '.github/workflows/ci.yml', true],
    // tags: the whole name
    [['v*', '!*-rc*'], 'v1.2.0', true],
    [['v*', '!*-rc*'], 'v1.2.0-rc1', false],
    [['v*'], 'release-v1', false],
  ] as [string[], string, boolean][])('%j on %s: %s', (filters, value, expected) => {
    expect(filterMatches(filters, value)).toBe(expected);
  });

  test('a push deploys when at least one changed file passes; without a file list the filters are skipped', () => {
    expect(pathsTrigger(['infra/**'], ['README.md', 'infra/a.ts'])).toBe(true);
    expect(pathsTrigger(['infra/**'], ['README.md'])).toBe(false);
    expect(pathsTrigger(['!**/*.md'], ['README.md', 'docs/x.md'])).toBe(false);
    expect(pathsTrigger(['infra/**'], [])).toBe(false);
    expect(pathsTrigger(['infra/**'], undefined)).toBe(true);
  });
});

describe('repositories', () => {
  test('are normalized per provider', () => {
    expect(normalizeRepository('github', 'Acme/Infra.git')).toBe('acme/infra');
    expect(normalizeRepository('gitlab', 'Group/Sub/Project/')).toBe('group/sub/project');
    expect(normalizeRepository('custom', 'HTTPS://user:pw@Git.Example.COM/Acme/Infra.git/')).toBe('https://git.example.com/Acme/Infra');
    expect(normalizeRepository('custom', 'git@git.example.com:acme/infra.git')).toBe('git@git.example.com:acme/infra');
  });

  test('come from the gitHub and vcs blocks; a custom VCS falls back to the clone URL', () => {
    const s: DeploymentSettings = {
      sourceContext: { git: { repoURL: 'https://git.example.com/acme/infra.git' } },
      gitHub: { repository: 'Acme/Infra' },
      vcs: { provider: 'custom' },
    };
    expect(repositoryKeysOf(s)).toEqual([
      { provider: 'custom', repository: 'https://git.example.com/acme/infra' },
      { provider: 'github', repository: 'acme/infra' },
    ]);
    expect(repositoryKeysOf({ vcs: { provider: 'bitbucket', repository: 'a/b' } })).toEqual([]);
  });
});

describe('GitHub payloads (@octokit/webhooks-examples)', () => {
  test('a branch push', () => {
    const p = githubExample('push', (x) => x.ref.startsWith('refs/heads/') && !x.deleted);
    const r = parseGitHub('push', p);
    expect(r).toEqual({
      ok: true,
      event: {
        event: 'push',
        repo: { provider: 'github', repository: 'codertocat/hello-world' },
        repository: 'Codertocat/Hello-World',
        cloneUrl: 'https://github.com/Codertocat/Hello-World.git',
        defaultBranch: 'master',
        sender: 'Codertocat',
        branch: 'master',
        commit: p.after,
        changedFiles: ['README.md'],
      },
    });
  });

  test('a tag push, a deleted tag, a ping', () => {
    const created = githubExample('push', (x) => x.ref.startsWith('refs/tags/') && x.created);
    expect(parseGitHub('push', created)).toMatchObject({ ok: true, event: { event: 'tag', tag: 'simple-tag', commit: created.head_commit.id } });
    const deleted = githubExample('push', (x) => x.deleted);
    expect(parseGitHub('push', deleted)).toEqual({ ok: true, event: { ignored: 'a deleted ref deploys nothing' } });
    expect(parseGitHub('ping', githubExample('ping'))).toEqual({ ok: true, event: { ignored: 'ping' } });
    expect(parseGitHub('issues', githubExample('issues'))).toEqual({ ok: true, event: { ignored: 'event issues' } });
  });

  test.each(['opened', 'synchronize', 'reopened'])('pull request %s previews the head commit', (action) => {
    const p = githubExample('pull_request', (x) => x.action === action);
    expect(parseGitHub('pull_request', p)).toMatchObject({
      ok: true,
      event: { event: 'pull_request', number: p.number, commit: p.pull_request.head.sha, baseBranch: 'master', headBranch: p.pull_request.head.ref },
    });
  });

  test('a pull request from a fork is not previewed (its code would see the stack’s secrets)', () => {
    const p = githubExample('pull_request', (x) => x.action === 'opened');
    p.pull_request.head.repo.full_name = 'mallory/Hello-World';
    expect(parseGitHub('pull_request', p)).toMatchObject({ ok: true, event: { ignored: expect.stringContaining('forks are not previewed') } });
    p.pull_request.head.repo = null;
    expect(parseGitHub('pull_request', p)).toMatchObject({ ok: true, event: { ignored: expect.stringContaining('forks are not previewed') } });
  });

  test('a closed pull request starts nothing', () => {
    expect(parseGitHub('pull_request', githubExample('pull_request', (x) => x.action === 'closed'))).toEqual({
      ok: true,
      event: { ignored: 'pull request closed' },
    });
  });

  test('malformed payloads name the bad fields', () => {
    const p = githubExample('push', (x) => x.ref.startsWith('refs/heads/'));
    p.after = 'HEAD; rm -rf /';
    delete p.repository.full_name;
    const r = parseGitHub('push', p);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path.join('.')).sort()).toEqual(['after', 'repository.full_name']);
    expect(parseGitHub('pull_request', [])).toMatchObject({ ok: false });
  });
});

// GitLab publishes no payload package: these carry the documented fields Stackwright reads.
const gitlabProject = { path_with_namespace: 'Group/Infra', git_http_url: 'https://gitlab.example.com/group/infra.git', default_branch: 'main' };

describe('GitLab payloads', () => {
  test('push, tag push and merge request hooks', () => {
    const push = { object_kind: 'push', ref: 'refs/heads/main', after: SHA, checkout_sha: SHA, user_username: 'jo', project: gitlabProject, commits: [{ added: ['a.ts'], modified: [], removed: ['b.ts'] }], total_commits_count: 1 };
    expect(parseGitLab('Push Hook', push)).toMatchObject({ ok: true, event: { event: 'push', branch: 'main', commit: SHA, changedFiles: ['a.ts', 'b.ts'], repo: { provider: 'gitlab', repository: 'group/infra' } } });
    // More commits than listed: the changed files are unknown, so filters are skipped.
    expect(parseGitLab('Push Hook', { ...push, total_commits_count: 40 })).toMatchObject({ ok: true, event: { changedFiles: undefined } });
    expect(parseGitLab('Tag Push Hook', { ...push, object_kind: 'tag_push', ref: 'refs/tags/v1' })).toMatchObject({ ok: true, event: { event: 'tag', tag: 'v1' } });
    expect(parseGitLab('Push Hook', { ...push, after: '0'.repeat(40), checkout_sha: null })).toMatchObject({ ok: true, event: { ignored: expect.any(String) } });
    const mr = { object_kind: 'merge_request', user: { username: 'jo' }, project: gitlabProject, object_attributes: { iid: 3, action: 'update', target_branch: 'main', source_branch: 'f', last_commit: { id: SHA }, oldrev: SHA, source_project_id: 5, target_project_id: 5 } };
    expect(parseGitLab('Merge Request Hook', mr)).toMatchObject({ ok: true, event: { event: 'pull_request', number: 3, baseBranch: 'main', commit: SHA } });
    const { oldrev: _o, ...titleEdit } = mr.object_attributes;
    expect(isIgnoredResult(parseGitLab('Merge Request Hook', { ...mr, object_attributes: titleEdit }))).toBe(true);
    const fromFork = parseGitLab('Merge Request Hook', { ...mr, object_attributes: { ...mr.object_attributes, source_project_id: 9 } });
    expect(fromFork).toMatchObject({ ok: true, event: { ignored: expect.stringContaining('forks are not previewed') } });
  });
});

const isIgnoredResult = (r: ReturnType<typeof parseGitLab>) => r.ok && isIgnored(r.event);

describe('custom VCS payloads', () => {
  test('push and tag_push; other events are ignored', () => {
    const push = { event: 'push', commit: SHA, branch: 'main', repoUrl: 'https://git.example.com/acme/infra', sender: 'bot', changedFiles: ['infra/a.go'] };
    expect(parseGenericVcs(push)).toMatchObject({ ok: true, event: { event: 'push', branch: 'main', changedFiles: ['infra/a.go'], repo: { provider: 'custom', repository: 'https://git.example.com/acme/infra' } } });
    expect(parseGenericVcs({ ...push, event: 'tag_push', tag: 'v1' })).toMatchObject({ ok: true, event: { event: 'tag', tag: 'v1' } });
    expect(parseGenericVcs({ ...push, event: 'merge' })).toEqual({ ok: true, event: { ignored: 'event merge' } });
  });

  test('missing fields are named', () => {
    const r = parseGenericVcs({ event: 'push', commit: 'abc', repoUrl: 'x' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path.join('.')).sort()).toEqual(['branch', 'commit']);
  });
});

describe('signatures', () => {
  const secret = 'a-webhook-secret-of-some-length';
  const body = JSON.stringify(githubExample('ping'));

  test('GitHub: X-Hub-Signature-256 over the raw body', async () => {
    const good = await sign(secret, body);
    expect(await verifyGitHub(secret, body, good)).toBe(true);
    expect(await verifyGitHub(secret, `${body} `, good)).toBe(false);
    expect(await verifyGitHub('another-secret-of-some-length', body, good)).toBe(false);
    expect(await verifyGitHub(secret, body, undefined)).toBe(false);
    expect(await verifyGitHub(secret, body, 'sha256=zz')).toBe(false);
    expect(await verifyGitHub(secret, body, good.replace('sha256=', 'sha1='))).toBe(false);
    expect(await verifyGitHub(secret, '', good)).toBe(false);
  });

  test('GitLab: the shared token', () => {
    expect(verifyGitLab(secret, secret)).toBe(true);
    expect(verifyGitLab(secret, `${secret}x`)).toBe(false);
    expect(verifyGitLab(secret, '')).toBe(false);
    expect(verifyGitLab(secret, undefined)).toBe(false);
  });

  test('custom VCS: v1=<hex HMAC-SHA256>', () => {
    const raw = Buffer.from(body);
    const good = signGenericVcs(secret, raw);
    expect(good).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifyGenericVcs(secret, raw, good)).toBe(true);
    expect(verifyGenericVcs(secret, raw, good.toUpperCase().replace('V1=', 'v1='))).toBe(true);
    expect(verifyGenericVcs(secret, Buffer.from(`${body}\n`), good)).toBe(false);
    expect(verifyGenericVcs(secret, raw, good.slice(3))).toBe(false);
    expect(verifyGenericVcs(secret, raw, `${good}00`)).toBe(false);
    expect(verifyGenericVcs(secret, raw, undefined)).toBe(false);
  });
});

describe('planning deployments', () => {
  const repo = { provider: 'github' as const, repository: 'acme/infra' };
  const stack = (name: string, settings: DeploymentSettings) => ({ org: 'acme', project: 'web', stack: name, settings, version: 1, created: '', modified: '' });
  const base = (block: object): DeploymentSettings => ({
    sourceContext: { git: { repoURL: 'https://github.com/acme/infra.git', branch: 'refs/heads/main', repoDir: 'infra' } },
    operationContext: { environmentVariables: { KEEP: 'me' } },
    gitHub: { repository: 'acme/infra', ...block },
  });
  const push = (o: Partial<VcsEvent> = {}): VcsEvent => ({ event: 'push', repo, repository: 'acme/infra', commit: SHA, branch: 'main', changedFiles: ['infra/index.ts'], sender: 'jo', ...o }) as VcsEvent;

  test('a push to the branch updates that commit with the stored settings', () => {
    const plan = planDeployments(push(), [stack('dev', base({ deployCommits: true }))]);
    expect(plan.skip).toEqual([]);
    expect(plan.deploy).toEqual([
      {
        ref: { org: 'acme', project: 'web', stack: 'dev' },
        request: {
          operation: 'update',
          inheritSettings: true,
          initiator: 'webhook',
          requestedBy: 'jo',
          trigger: { provider: 'github', repository: 'acme/infra', event: 'push', commit: SHA, branch: 'main' },
          settings: {
            sourceContext: { git: { repoURL: 'https://github.com/acme/infra.git', repoDir: 'infra', commit: SHA } },
            operationContext: { environmentVariables: { KEEP: 'me', PULUMI_CI_BRANCH_NAME: 'main' } },
            gitHub: { repository: 'acme/infra', deployCommits: true },
          },
        },
      },
    ]);
  });

  test('branch, flags and path filters decide which stacks deploy', () => {
    const stacks = [
      stack('off', base({})),
      stack('other-branch', { ...base({ deployCommits: true }), sourceContext: { git: { repoURL: 'r', branch: 'prod' } } }),
      stack('docs-only', base({ deployCommits: true, paths: ['docs/**'] })),
      stack('infra', base({ deployCommits: true, paths: ['infra/**', '!infra/README.md'] })),
    ];
    const plan = planDeployments(push(), stacks);
    expect(plan.deploy.map((d) => d.ref.stack)).toEqual(['infra']);
    expect(plan.skip).toEqual([
      { stack: 'acme/web/off', reason: 'deployCommits is off' },
      { stack: 'acme/web/other-branch', reason: 'push to main, stack follows prod' },
      { stack: 'acme/web/docs-only', reason: 'no changed file passes the path filters' },
    ]);
    expect(planDeployments(push({ changedFiles: ['infra/README.md'] } as Partial<VcsEvent>), stacks).deploy).toEqual([]);
  });

  test('a tag deploys with PULUMI_CI_TAG_NAME when it passes the tag filters', () => {
    const s = [stack('prod', base({ deployTags: true, tagFilters: ['v*', '!*-rc*'] }))];
    const tag = (name: string) => ({ event: 'tag', repo, repository: 'acme/infra', commit: SHA, tag: name }) as VcsEvent;
    const [d] = planDeployments(tag('v1.0.0'), s).deploy;
    expect(d.request.operation).toBe('update');
    expect(d.request.settings.operationContext?.environmentVariables).toEqual({ KEEP: 'me', PULUMI_CI_TAG_NAME: 'v1.0.0' });
    expect(planDeployments(tag('v1.0.0-rc1'), s).skip).toEqual([{ stack: 'acme/web/prod', reason: 'tag v1.0.0-rc1 does not pass the tag filters' }]);
  });

  test('a pull request into the branch previews its head and supersedes older previews of it', () => {
    const pr = { event: 'pull_request', repo, repository: 'acme/infra', commit: SHA, number: 9, baseBranch: 'main', headBranch: 'feature/$(x)' } as VcsEvent;
    const [d] = planDeployments(pr, [stack('dev', base({ previewPullRequests: true }))]).deploy;
    expect(d.request.operation).toBe('preview');
    expect(d.request.supersedeKey).toBe('pr:github:acme/infra#9/acme/web/dev');
    expect(d.request.settings.sourceContext?.git).toEqual({ repoURL: 'https://github.com/acme/infra.git', repoDir: 'infra', commit: SHA });
    expect(d.request.settings.operationContext?.environmentVariables).toMatchObject({ PULUMI_CI_BRANCH_NAME: 'feature/$(x)', PULUMI_CI_PULL_REQUEST_SHA: SHA });
  });

  test('pull request path filters use the listed files; unknown files skip the filters', () => {
    const pr = (changedFiles?: string[]) => ({ event: 'pull_request', repo, repository: 'acme/infra', commit: SHA, number: 9, baseBranch: 'main', changedFiles }) as VcsEvent;
    const stacks = [stack('filtered', base({ previewPullRequests: true, paths: ['infra/**'] })), stack('all', base({ previewPullRequests: true }))];
    expect(needsChangedFiles(pr(), stacks)).toBe(true);
    expect(needsChangedFiles(pr(), [stacks[1]])).toBe(false);
    expect(planDeployments(pr(['docs/a.md']), stacks).deploy.map((d) => d.ref.stack)).toEqual(['all']);
    expect(planDeployments(pr(['infra/a.ts']), stacks).deploy.map((d) => d.ref.stack)).toEqual(['filtered', 'all']);
    expect(planDeployments(pr(), stacks).deploy.map((d) => d.ref.stack)).toEqual(['filtered', 'all']);
  });

  test('a hosted repoURL must be the repository the event is about', () => {
    const at = (repoURL: string) => planDeployments(push(), [stack('dev', { ...base({ deployCommits: true }), sourceContext: { git: { repoURL, branch: 'main' } } })]);
    for (const ok of ['https://github.com/Acme/Infra.git', 'https://x:tok@github.example.com/acme/infra', 'git@github.com:acme/infra.git', 'ssh://git@host/mirror/acme/infra.git', 'file:///srv/mirror.git']) {
      expect([ok, at(ok).deploy.length]).toEqual([ok, 1]);
    }
    expect(at('https://x:tok-canary@github.com/evil/infra.git').skip).toEqual([
      { stack: 'acme/web/dev', reason: 'sourceContext.git.repoURL is not the repository acme/infra' },
    ]);
    expect(at('git@github.com:acme/infra-fork.git').deploy).toEqual([]);
  });

  test('without a repoURL the clone URL the sender gives is used; without either the stack is skipped', () => {
    const s: DeploymentSettings = { gitHub: { repository: 'acme/infra', deployCommits: true } };
    const withUrl = planDeployments(push({ cloneUrl: 'https://github.com/acme/infra.git', defaultBranch: 'main' }), [stack('dev', s)]);
    expect(withUrl.deploy[0].request.settings.sourceContext?.git).toEqual({ repoURL: 'https://github.com/acme/infra.git', commit: SHA });
    const without = planDeployments(push({ defaultBranch: 'main' }), [stack('dev', s)]);
    expect(without.skip).toEqual([{ stack: 'acme/web/dev', reason: 'settings cannot run: sourceContext.git.repoURL: a git repository URL is required' }]);
  });
});

describe('reporting', () => {
  const input: DeploymentInput = {
    org: 'acme',
    project: 'web',
    stack: 'dev',
    id: 'dep-1',
    version: 4,
    operation: 'preview',
    settings: {},
    trigger: { provider: 'github', repository: 'acme/infra', event: 'pull_request', commit: SHA, pullRequest: 9 },
  };
  const report = (status: 'running' | 'succeeded' | 'failed' | 'skipped', more: object = {}) => ({
    input,
    outcome: { status, resourceChanges: { create: 2, same: 1 }, ...more },
    logsUrl: 'https://sw.example.com/logs',
    output: ['Previewing update (dev):\n', '    + 2 to create\n'],
  });

  test('status descriptions fit GitHub’s 140 characters', () => {
    expect(statusDescription(report('succeeded'))).toBe('Preview succeeded: 2 to create');
    expect(statusDescription(report('skipped', { message: 'Superseded by deployment 5.' }))).toBe('Superseded by deployment 5.');
    const long = statusDescription(report('failed', { message: 'x'.repeat(500) }));
    expect(long.length).toBe(140);
    expect(long.startsWith('Preview failed: xxx')).toBe(true);
  });

  test('the comment carries the marker, the changes, the output in a fence it cannot close, and the link', () => {
    const body = commentBody({ ...report('succeeded'), output: ['```\n', 'echo ````\n'] });
    expect(body.startsWith(commentMarker(input))).toBe(true);
    expect(body).toContain('| create | 2 |');
    expect(body).toContain('[logs](https://sw.example.com/logs)');
    expect(body).toContain('`````\n```\necho ````\n`````');
  });

  test('long output keeps its end and says what was left out', () => {
    const output = Array.from({ length: OUTPUT_MAX_LINES + 50 }, (_, i) => `line ${i}\n`);
    const body = commentBody({ ...report('succeeded'), output });
    expect(body).toContain('_50 earlier line(s) left out');
    expect(body).toContain(`line ${OUTPUT_MAX_LINES + 49}`);
    expect(body).not.toContain('line 49\n');
  });

  describe('against a fake API', () => {
    let host: FakeGitHost;
    beforeEach(async () => {
      host = await startFakeGitHost();
    });
    afterEach(async () => host.close());

    test('GitHub: a status per report, one comment per stack, updated by the next preview', async () => {
      const gh = { apiUrl: host.githubUrl, token: 'ghp_test' };
      await reportToGitHub(gh, report('running'));
      await reportToGitHub(gh, report('succeeded'));
      await reportToGitHub(gh, report('skipped', { message: 'Superseded by deployment 5.' }));
      await reportToGitHub(gh, report('failed', { message: 'boom' }));
      const statuses = host.calls.filter((c) => c.path.endsWith(`/statuses/${SHA}`));
      expect(statuses.map((c) => [c.body.state, c.body.context])).toEqual([
        ['pending', 'stackwright/acme/web/dev'],
        ['success', 'stackwright/acme/web/dev'],
        ['success', 'stackwright/acme/web/dev'],
        ['failure', 'stackwright/acme/web/dev'],
      ]);
      expect(host.calls.every((c) => c.authorization === 'token ghp_test')).toBe(true);
      const comments = host.comments.get('acme/infra#9')!;
      expect(comments).toHaveLength(1);
      expect(comments[0].body).toContain('Preview of `acme/web/dev` failed');
      expect(host.calls.filter((c) => c.method === 'PATCH')).toHaveLength(1);
    });

    test('GitLab: commit statuses and one merge request note', async () => {
      const gl = { apiUrl: host.gitlabUrl, token: 'glpat-test' };
      const mr = { ...input, trigger: { ...input.trigger!, provider: 'gitlab' as const, repository: 'group/infra' } };
      await reportToGitLab(gl, { ...report('running'), input: mr });
      await reportToGitLab(gl, { ...report('succeeded'), input: mr });
      await reportToGitLab(gl, { ...report('succeeded'), input: mr });
      expect(host.calls.filter((c) => c.path.includes('/statuses/')).map((c) => [c.path, c.body.state])).toEqual([
        [`/gitlab/projects/group%2Finfra/statuses/${SHA}`, 'running'],
        [`/gitlab/projects/group%2Finfra/statuses/${SHA}`, 'success'],
        [`/gitlab/projects/group%2Finfra/statuses/${SHA}`, 'success'],
      ]);
      expect(host.comments.get('group/infra!9')).toHaveLength(1);
      expect(host.calls.filter((c) => c.method === 'PUT')).toHaveLength(1);
      expect(host.calls.every((c) => c.privateToken === 'glpat-test')).toBe(true);
    });

    test('an API error is thrown, for the activity to retry', async () => {
      host.failWith = 502;
      await expect(reportToGitHub({ apiUrl: host.githubUrl, token: 't' }, report('running'))).rejects.toThrow();
      await expect(reportToGitLab({ apiUrl: host.gitlabUrl, token: 't' }, report('running'))).rejects.toThrow(/HTTP 502/);
    });
  });
});

describe('configuration', () => {
  test('every secret or token setting is kept out of deployments’ environment', () => {
    const secretish = Object.keys(EnvConfig.shape).filter((k) => /SECRET|TOKEN|KEY|PASSPHRASE|DATABASE_URL/.test(k) && !k.endsWith('_SECONDS')); // durations are not secrets
    expect(secretish).toEqual(expect.arrayContaining(['STACKWRIGHT_GITHUB_WEBHOOK_SECRET', 'STACKWRIGHT_GITLAB_WEBHOOK_TOKEN', 'STACKWRIGHT_GENERIC_VCS_SECRET', 'STACKWRIGHT_GITHUB_TOKEN', 'STACKWRIGHT_GITLAB_TOKEN']));
    expect(PRIVATE_ENV).toEqual(expect.arrayContaining(secretish));
  });

  test('webhook secrets must be long enough, and the API URLs valid', () => {
    expect(() => parseEnv({ STACKWRIGHT_GITHUB_WEBHOOK_SECRET: 'short' })).toThrow(/STACKWRIGHT_GITHUB_WEBHOOK_SECRET: must be at least 16 characters/);
    expect(() => parseEnv({ STACKWRIGHT_GITHUB_API_URL: 'not a url' })).toThrow(/STACKWRIGHT_GITHUB_API_URL/);
    expect(parseEnv({}).STACKWRIGHT_WEBHOOK_MAX_BYTES).toBe(5 * 1024 * 1024);
  });
});

describe('pull request decision comments', () => {
  test.each([
    ['/stackwright approve', { decision: 'approve' }],
    ['  /stackwright approve   looks right  ', { decision: 'approve', comment: 'looks right' }],
    ['\n/stackwright reject\r\nnot now\r\nsee the freeze', { decision: 'reject', comment: 'not now\nsee the freeze' }],
    ['/stackwright approved', undefined],
    ['please /stackwright approve', undefined],
    ['first line\n/stackwright approve', undefined],
    ['/stackwright', undefined],
  ])('%j', (body, expected) => expect(parseCommand(body)).toEqual(expected));

  test('the comment is cut to the length the REST route accepts', () => {
    expect(parseCommand(`/stackwright reject ${'x'.repeat(5000)}`)?.comment).toHaveLength(MAX_DECISION_COMMENT);
  });

  test('GitHub issue_comment: only new comments on pull requests carry a command', () => {
    const p = githubExample('issue_comment', (e) => e.action === 'created');
    p.comment.body = '/stackwright approve ok';
    expect(githubCommentEvent('issue_comment', p)).toEqual({ ok: true, ignored: 'a comment on an issue, not a pull request' });
    p.issue.pull_request = { url: 'https://api.github.com/repos/Codertocat/Hello-World/pulls/1' };
    expect(githubCommentEvent('issue_comment', p)).toEqual({
      ok: true,
      command: { provider: 'github', repository: 'Codertocat/Hello-World', number: p.issue.number, author: 'Codertocat', decision: 'approve', comment: 'ok' },
    });
    expect(githubCommentEvent('issue_comment', { ...p, action: 'edited' })).toEqual({ ok: true, ignored: 'comment edited' });
    expect(githubCommentEvent('push', p)).toBeUndefined();
    const bad = githubCommentEvent('issue_comment', { ...p, comment: { body: 'x' } });
    expect(bad?.ok === false && bad.issues.map((i) => i.path.join('.'))).toEqual(['comment.user']);
  });

  test('GitLab Note Hook: notes on merge requests only', () => {
    const note = {
      object_kind: 'note',
      user: { id: 7, username: 'dev' },
      project: { id: 3, path_with_namespace: 'group/infra' },
      object_attributes: { note: '/stackwright reject', noteable_type: 'MergeRequest' },
      merge_request: { iid: 9 },
    };
    expect(gitlabCommentEvent('Note Hook', note)).toEqual({
      ok: true,
      command: { provider: 'gitlab', repository: 'group/infra', projectId: 3, number: 9, author: 'dev', authorId: 7, decision: 'reject' },
    });
    expect(gitlabCommentEvent('Note Hook', { ...note, object_attributes: { ...note.object_attributes, noteable_type: 'Commit' } })).toEqual({ ok: true, ignored: 'a note on a Commit, not a merge request' });
    expect(gitlabCommentEvent('Note Hook', { ...note, object_attributes: { ...note.object_attributes, action: 'update' } })).toEqual({ ok: true, ignored: 'note update' });
  });

  test('write access as the git hosts say', async () => {
    const host = await startFakeGitHost();
    try {
      host.githubPermissions.set('w', 'write').set('m', 'maintain').set('t', 'triage');
      host.gitlabAccess.set(1, 30).set(2, 20);
      const gh = (author: string) => hasWriteAccess({ apiUrl: host.githubUrl, token: 't' }, { provider: 'github', repository: 'o/r', number: 1, author, decision: 'approve' });
      expect(await Promise.all(['w', 'm', 't', 'nobody'].map(gh))).toEqual([true, true, false, false]);
      const gl = (authorId: number) => hasWriteAccess({ apiUrl: host.gitlabUrl, token: 't' }, { provider: 'gitlab', repository: 'g/p', projectId: 5, number: 1, author: 'x', authorId, decision: 'approve' });
      expect(await Promise.all([1, 2, 3].map(gl))).toEqual([true, false, false]);
      host.failWith = 500;
      await expect(gh('w')).rejects.toThrow();
    } finally {
      await host.close();
    }
  });
});
