import { z } from 'zod';
import type { ReviewProvider } from '../shared/review';
import { normalizeRepository, type RepositoryKey } from './repository';
import { GitHubPullRequest as GitHubPullRequestPayload, GitLabMergeRequest as GitLabMergeRequestPayload } from './payloads';

/** What a pull request event means for review stacks: new code to deploy, or the end of the pull request. */
export interface ReviewEvent {
  action: 'push' | 'close';
  provider: ReviewProvider;
  repo: RepositoryKey;
  /** As the sender spells it. */
  repository: string;
  cloneUrl?: string;
  number: number;
  baseBranch: string;
  headBranch?: string;
  commit: string;
  sender?: string;
  /** The pull request's labels now (gates review stacks with reviewStackLabels). */
  labels: string[];
  /** From another repository: its code never gets a review stack (it would run with the template's secrets). */
  fork: boolean;
  merged: boolean;
}

const label = z.object({ name: z.string() });

// The preview parser's schemas, with what review stacks read besides.
const GitHubPullRequest = GitHubPullRequestPayload.extend({
  pull_request: GitHubPullRequestPayload.shape.pull_request.extend({ merged: z.boolean().nullish(), labels: z.array(label).default([]) }),
});

/** Pull request actions that bring code a review stack deploys; `labeled` may open a gate. */
const GITHUB_PUSH = new Set(['opened', 'reopened', 'synchronize', 'labeled']);

/** A GitHub pull_request delivery, when it concerns review stacks (well-formedness is checked by the preview parser). */
export function githubReviewEvent(eventName: string, body: unknown): ReviewEvent | undefined {
  if (eventName !== 'pull_request') return undefined;
  const r = GitHubPullRequest.safeParse(body);
  if (!r.success) return undefined;
  const p = r.data;
  const action = GITHUB_PUSH.has(p.action) ? 'push' : p.action === 'closed' ? 'close' : undefined;
  if (!action) return undefined;
  return {
    action,
    provider: 'github',
    repo: { provider: 'github', repository: normalizeRepository('github', p.repository.full_name) },
    repository: p.repository.full_name,
    cloneUrl: p.repository.clone_url,
    number: p.number,
    baseBranch: p.pull_request.base.ref,
    headBranch: p.pull_request.head.ref,
    commit: p.pull_request.head.sha,
    sender: p.sender?.login,
    labels: p.pull_request.labels.map((l) => l.name),
    fork: p.pull_request.head.repo?.full_name.toLowerCase() !== p.repository.full_name.toLowerCase(),
    merged: p.pull_request.merged === true,
  };
}

const GitLabMergeRequest = GitLabMergeRequestPayload.extend({ labels: z.array(z.object({ title: z.string() })).default([]) });

/** A GitLab Merge Request Hook: open, reopen and update (new commits, or labels) deploy; close and merge tear down. */
export function gitlabReviewEvent(eventName: string, body: unknown): ReviewEvent | undefined {
  if (eventName !== 'Merge Request Hook') return undefined;
  const r = GitLabMergeRequest.safeParse(body);
  if (!r.success) return undefined;
  const p = r.data;
  const a = p.object_attributes;
  const action = ['open', 'reopen', 'update'].includes(a.action ?? '') ? 'push' : a.action === 'close' || a.action === 'merge' ? 'close' : undefined;
  if (!action) return undefined;
  return {
    action,
    provider: 'gitlab',
    repo: { provider: 'gitlab', repository: normalizeRepository('gitlab', p.project.path_with_namespace) },
    repository: p.project.path_with_namespace,
    cloneUrl: p.project.git_http_url,
    number: a.iid,
    baseBranch: a.target_branch,
    headBranch: a.source_branch,
    commit: a.last_commit.id,
    sender: p.user?.username,
    labels: p.labels.map((l) => l.title),
    fork: a.source_project_id !== a.target_project_id,
    merged: a.action === 'merge',
  };
}
