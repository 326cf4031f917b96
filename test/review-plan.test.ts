import { githubReviewEvent, gitlabReviewEvent } from '../src/vcs/review-event';
import { planReviews } from '../src/vcs/review-plan';
import { reviewSettings } from '../src/vcs/review-settings';
import { reviewStackName } from '../src/shared/review';
import type { DeploymentSettings } from '../src/shared/settings';
import { githubExample } from './helpers/webhook-examples';

const sha = 'c'.repeat(40);
const project = { path_with_namespace: 'Group/Infra', git_http_url: 'https://gitlab.example.com/group/infra.git' };
const mr = (action: string, extra: object = {}) => ({
  object_kind: 'merge_request',
  user: { username: 'dev' },
  project,
  labels: [{ title: 'review' }],
  object_attributes: { iid: 9, action, target_branch: 'main', source_branch: 'feature', last_commit: { id: sha }, source_project_id: 1, target_project_id: 1, ...extra },
});
const stack = (name: string, settings: DeploymentSettings) => ({ org: 'acme', project: 'web', stack: name, settings, version: 1, created: '', modified: '' });
const template = (name: string, block: object) =>
  stack(name, { sourceContext: { git: { repoURL: 'https://gitlab.example.com/group/infra.git', branch: 'main' } }, vcs: { provider: 'gitlab', repository: 'group/infra', pullRequestTemplate: true, ...block } });

describe('review events', () => {
  test('GitLab merge requests: open, reopen and update push; close and merge tear down; forks are marked', () => {
    expect(gitlabReviewEvent('Merge Request Hook', mr('open'))).toMatchObject({ action: 'push', provider: 'gitlab', number: 9, commit: sha, labels: ['review'], fork: false, repo: { repository: 'group/infra' } });
    expect(gitlabReviewEvent('Merge Request Hook', mr('update'))?.action).toBe('push');
    expect(gitlabReviewEvent('Merge Request Hook', mr('merge'))).toMatchObject({ action: 'close', merged: true });
    expect(gitlabReviewEvent('Merge Request Hook', mr('close'))).toMatchObject({ action: 'close', merged: false });
    expect(gitlabReviewEvent('Merge Request Hook', mr('approved'))).toBeUndefined();
    expect(gitlabReviewEvent('Merge Request Hook', mr('open', { source_project_id: 2 }))?.fork).toBe(true);
    expect(gitlabReviewEvent('Push Hook', mr('open'))).toBeUndefined();
  });

  test('GitHub pull requests: labels and merged come from the real payloads', () => {
    const closed = githubReviewEvent('pull_request', githubExample('pull_request', (p) => p.action === 'closed'));
    expect(closed).toMatchObject({ action: 'close', provider: 'github', number: 2, labels: ['bug'], fork: false });
    expect(githubReviewEvent('pull_request', githubExample('pull_request', (p) => p.action === 'labeled'))?.action).toBe('push');
    expect(githubReviewEvent('pull_request', githubExample('pull_request', (p) => p.action === 'assigned'))).toBeUndefined();
  });
});

describe('choosing templates', () => {
  const open = gitlabReviewEvent('Merge Request Hook', mr('open'))!;
  test('branch, labels, path filters and forks decide; review stacks and other stacks are never templates', () => {
    const stacks = [
      template('pr', { paths: ['app/**'], reviewStackTtlHours: 24 }),
      template('pr-db', { paths: ['migrations/**'] }),
      template('pr-labelled', { reviewStackLabels: ['deploy'] }),
      template('pr-develop', {}),
      stack('prod', { vcs: { provider: 'gitlab', repository: 'group/infra', deployCommits: true } }),
      stack('pr-pr-9', { ...template('x', {}).settings, source: 'gitlab-review-stack' }),
    ];
    stacks[3].settings.sourceContext!.git!.branch = 'develop';
    const plan = planReviews(open, stacks, ['app/main.ts']);
    expect(plan.signals.map((s) => [s.workflowId, s.input.review.stack, s.push?.ttlHours])).toEqual([['review/acme/web/pr/gitlab/group/infra/9', 'pr-pr-9', 24]]);
    expect(plan.skip).toEqual([
      { stack: 'acme/web/pr-db', reason: 'no changed file passes the template’s path filters' },
      { stack: 'acme/web/pr-labelled', reason: 'the pull request carries none of the labels deploy' },
      { stack: 'acme/web/pr-develop', reason: 'pull request into main, template follows develop' },
    ]);
    const fork = planReviews({ ...open, fork: true }, [template('pr', {})]);
    expect(fork.signals).toEqual([]);
    // A close reaches every template of the branch, whatever its gates.
    const close = planReviews(gitlabReviewEvent('Merge Request Hook', mr('merge'))!, stacks, []);
    expect(close.signals.map((s) => [s.input.template.stack, s.close])).toEqual([
      ['pr', { merged: true, sender: 'dev' }],
      ['pr-db', { merged: true, sender: 'dev' }],
      ['pr-labelled', { merged: true, sender: 'dev' }],
    ]);
  });

  test('review settings follow the head branch with every trigger off; names stay valid stack names', () => {
    const t = template('pr', { deployCommits: true, previewPullRequests: true });
    const input = { template: t, review: { ...t, stack: 'pr-pr-9' }, provider: 'gitlab' as const, repository: 'Group/Infra', pullRequest: 9, baseBranch: 'main' };
    const s = reviewSettings(t.settings, input, { commit: sha, headBranch: 'feature', ttlHours: 1 });
    expect(s).toMatchObject({ source: 'gitlab-review-stack', sourceContext: { git: { branch: 'feature' } } });
    expect(s.vcs).toMatchObject({ pullRequestTemplate: false, deployCommits: false, previewPullRequests: false, deployPullRequest: 9 });
    expect(reviewStackName('x'.repeat(120), 12345)).toHaveLength(100);
    expect(reviewStackName('pr', 7)).toBe('pr-pr-7');
  });
});
