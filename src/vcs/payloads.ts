import { z } from 'zod';
import { normalizeRepository } from './repository';
import { changedFilesOf, ignored, stripRef, type Ignored, type VcsEvent } from './event';

// Only the fields Stackwright reads; everything else in a payload is ignored.

const sha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'must be a full hexadecimal commit id');
const ZERO = /^0+$/;
const files = z.array(z.string()).optional();
const commitFiles = z.object({ added: files, modified: files, removed: files });
// GitHub and GitLab list at most 20 commits; beyond that the changed files are not all known.
const MAX_LISTED_COMMITS = 20;

const GitHubRepository = z.object({ full_name: z.string().min(1), clone_url: z.string().optional(), default_branch: z.string().optional() });
const GitHubSender = z.object({ login: z.string() }).optional();

export const GitHubPush = z.object({
  ref: z.string().min(1),
  after: sha,
  deleted: z.boolean().optional(),
  commits: z.array(commitFiles).default([]),
  head_commit: commitFiles.extend({ id: sha }).nullish(),
  repository: GitHubRepository,
  sender: GitHubSender,
});

export const GitHubPullRequest = z.object({
  action: z.string(),
  number: z.number().int().positive(),
  pull_request: z.object({
    // `repo` is null when the fork was deleted.
    head: z.object({ sha, ref: z.string().optional(), repo: z.object({ full_name: z.string() }).nullish() }),
    base: z.object({ ref: z.string().min(1) }),
  }),
  repository: GitHubRepository,
  sender: GitHubSender,
});

/** A preview runs the pull request's code with the stack's secrets: only branches of the repository itself. */
const FORK = 'pull requests from forks are not previewed: their code would run with the stack’s secrets';

/** Pull request actions that bring new code to preview. */
const PREVIEW_ACTIONS = new Set(['opened', 'synchronize', 'reopened']);

export type Parsed = { ok: true; event: VcsEvent | Ignored } | { ok: false; issues: z.core.$ZodIssue[] };

function parse<T>(schema: z.ZodType<T>, body: unknown, then: (v: T) => VcsEvent | Ignored): Parsed {
  const r = schema.safeParse(body);
  return r.success ? { ok: true, event: then(r.data) } : { ok: false, issues: r.error.issues };
}

/** A GitHub delivery (X-GitHub-Event names the event). */
export function parseGitHub(eventName: string, body: unknown): Parsed {
  switch (eventName) {
    case 'ping':
      return { ok: true, event: ignored('ping') };
    case 'push':
      return parse(GitHubPush, body, (p) => {
        if (p.deleted || ZERO.test(p.after)) return ignored('a deleted ref deploys nothing');
        const common = {
          repo: { provider: 'github' as const, repository: normalizeRepository('github', p.repository.full_name) },
          repository: p.repository.full_name,
          cloneUrl: p.repository.clone_url,
          defaultBranch: p.repository.default_branch,
          sender: p.sender?.login,
        };
        const tag = stripRef(p.ref, 'refs/tags/');
        // An annotated tag's `after` is the tag object; head_commit is the commit it points to.
        const commit = p.head_commit?.id ?? p.after;
        if (tag !== undefined) return { ...common, event: 'tag', tag, commit };
        const branch = stripRef(p.ref, 'refs/heads/');
        if (branch === undefined) return ignored(`ref ${p.ref} is neither a branch nor a tag`);
        return { ...common, event: 'push', branch, commit, changedFiles: pushedFiles(p.commits, p.head_commit) };
      });
    case 'pull_request':
      return parse(GitHubPullRequest, body, (p) => {
        if (!PREVIEW_ACTIONS.has(p.action)) return ignored(`pull request ${p.action}`);
        if (p.pull_request.head.repo?.full_name.toLowerCase() !== p.repository.full_name.toLowerCase()) return ignored(FORK);
        return {
          event: 'pull_request',
          repo: { provider: 'github', repository: normalizeRepository('github', p.repository.full_name) },
          repository: p.repository.full_name,
          cloneUrl: p.repository.clone_url,
          defaultBranch: p.repository.default_branch,
          sender: p.sender?.login,
          commit: p.pull_request.head.sha,
          number: p.number,
          baseBranch: p.pull_request.base.ref,
          headBranch: p.pull_request.head.ref,
        };
      });
    default:
      return { ok: true, event: ignored(`event ${eventName}`) };
  }
}

function pushedFiles(commits: z.infer<typeof commitFiles>[], head: z.infer<typeof commitFiles> | null | undefined): string[] | undefined {
  if (commits.length >= MAX_LISTED_COMMITS) return undefined;
  if (commits.length > 0) return changedFilesOf(commits);
  return head ? changedFilesOf([head]) : undefined;
}

// GitLab payloads: GitLab publishes no machine-readable examples; the fields below are those its
// webhook documentation (user/project/integrations/webhook_events.md) lists for these events.
const GitLabProject = z.object({ path_with_namespace: z.string().min(1), git_http_url: z.string().optional(), default_branch: z.string().optional() });

export const GitLabPush = z.object({
  object_kind: z.enum(['push', 'tag_push']),
  ref: z.string().min(1),
  after: sha,
  checkout_sha: sha.nullish(),
  user_username: z.string().optional(),
  project: GitLabProject,
  commits: z.array(commitFiles).default([]),
  total_commits_count: z.number().int().optional(),
});

export const GitLabMergeRequest = z.object({
  object_kind: z.literal('merge_request'),
  user: z.object({ username: z.string() }).optional(),
  project: GitLabProject,
  object_attributes: z.object({
    iid: z.number().int().positive(),
    action: z.string().optional(),
    target_branch: z.string().min(1),
    source_branch: z.string().optional(),
    last_commit: z.object({ id: sha }),
    source_project_id: z.number().int().optional(),
    target_project_id: z.number().int().optional(),
    // Present on `update` only when the update pushed commits.
    oldrev: z.string().optional(),
  }),
});

/** A GitLab delivery (X-Gitlab-Event: Push Hook, Tag Push Hook, Merge Request Hook). */
export function parseGitLab(eventName: string, body: unknown): Parsed {
  const common = (project: z.infer<typeof GitLabProject>, sender?: string) => ({
    repo: { provider: 'gitlab' as const, repository: normalizeRepository('gitlab', project.path_with_namespace) },
    repository: project.path_with_namespace,
    cloneUrl: project.git_http_url,
    defaultBranch: project.default_branch,
    sender,
  });
  switch (eventName) {
    case 'Push Hook':
    case 'Tag Push Hook':
      return parse(GitLabPush, body, (p) => {
        if (ZERO.test(p.after) || !p.checkout_sha) return ignored('a deleted ref deploys nothing');
        const c = { ...common(p.project, p.user_username), commit: p.checkout_sha };
        const tag = stripRef(p.ref, 'refs/tags/');
        if (tag !== undefined) return { ...c, event: 'tag', tag };
        const branch = stripRef(p.ref, 'refs/heads/');
        if (branch === undefined) return ignored(`ref ${p.ref} is neither a branch nor a tag`);
        const complete = (p.total_commits_count ?? p.commits.length) === p.commits.length && p.commits.length < MAX_LISTED_COMMITS;
        return { ...c, event: 'push', branch, changedFiles: complete && p.commits.length ? changedFilesOf(p.commits) : undefined };
      });
    case 'Merge Request Hook':
      return parse(GitLabMergeRequest, body, (p) => {
        const a = p.object_attributes;
        const newCode = a.action === 'open' || a.action === 'reopen' || (a.action === 'update' && a.oldrev !== undefined);
        if (!newCode) return ignored(`merge request ${a.action ?? 'event'} without new commits`);
        if (a.source_project_id !== a.target_project_id) return ignored(FORK);
        return {
          ...common(p.project, p.user?.username),
          event: 'pull_request',
          commit: a.last_commit.id,
          number: a.iid,
          baseBranch: a.target_branch,
          headBranch: a.source_branch,
        };
      });
    default:
      return { ok: true, event: ignored(`event ${eventName}`) };
  }
}

/** Pulumi's custom VCS protocol (pulumi-deployments-api.md §3.2). */
export const GenericVcsPayload = z
  .object({
    event: z.string().min(1),
    commit: sha,
    branch: z.string().min(1).optional(),
    tag: z.string().min(1).optional(),
    repoUrl: z.string().min(1),
    sender: z.string().optional(),
    changedFiles: z.array(z.string()).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.event === 'push' && !p.branch) ctx.addIssue({ code: 'custom', path: ['branch'], message: 'branch is required for push' });
    if (p.event === 'tag_push' && !p.tag) ctx.addIssue({ code: 'custom', path: ['tag'], message: 'tag is required for tag_push' });
  });

export function parseGenericVcs(body: unknown): Parsed {
  return parse(GenericVcsPayload, body, (p) => {
    const common = {
      repo: { provider: 'custom' as const, repository: normalizeRepository('custom', p.repoUrl) },
      repository: p.repoUrl,
      cloneUrl: p.repoUrl,
      commit: p.commit,
      sender: p.sender,
    };
    if (p.event === 'push') return { ...common, event: 'push', branch: p.branch!.replace(/^refs\/heads\//, ''), changedFiles: p.changedFiles };
    if (p.event === 'tag_push') return { ...common, event: 'tag', tag: p.tag!.replace(/^refs\/tags\//, '') };
    return ignored(`event ${p.event}`);
  });
}
