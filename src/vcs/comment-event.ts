import { z } from 'zod';
import type { ReviewProvider } from '../shared/review';

/** `/stackwright approve [comment]` or `/stackwright reject [comment]` on a pull (merge) request. */
export interface PullRequestCommand {
  provider: ReviewProvider;
  /** As the sender spells it (owner/repo, group/project). */
  repository: string;
  /** GitLab's numeric project id (member lookups); GitHub needs none. */
  projectId?: number;
  number: number;
  /** The comment's author: a login (GitHub) or username (GitLab). */
  author: string;
  /** GitLab's numeric user id (member lookups). */
  authorId?: number;
  decision: 'approve' | 'reject';
  comment?: string;
}

export type CommentParsed = { ok: true; command?: PullRequestCommand; ignored?: string } | { ok: false; issues: z.core.$ZodIssue[] };

/** The decision comments carry at most this much text, as the REST route's `comment`. */
export const MAX_DECISION_COMMENT = 2000;

const COMMAND = /^\/stackwright[ \t]+(approve|reject)(?=\s|$)[ \t]*(.*)$/;

/**
 * The command in a comment, when its first non-empty line starts with `/stackwright approve` or
 * `/stackwright reject`; what follows on that line and the next lines is the decision's comment.
 */
export function parseCommand(body: string): { decision: 'approve' | 'reject'; comment?: string } | undefined {
  const lines = body.replace(/\r\n?/g, '\n').split('\n');
  const first = lines.findIndex((l) => l.trim() !== '');
  const m = first < 0 ? null : COMMAND.exec(lines[first].trim());
  if (!m) return undefined;
  const comment = [m[2], ...lines.slice(first + 1)].join('\n').trim().slice(0, MAX_DECISION_COMMENT);
  return { decision: m[1] as 'approve' | 'reject', ...(comment && { comment }) };
}

const GitHubIssueComment = z.object({
  action: z.string(),
  issue: z.object({ number: z.number().int().positive(), pull_request: z.object({ url: z.string().optional() }).nullish() }),
  comment: z.object({ body: z.string().nullish(), user: z.object({ login: z.string().min(1) }) }),
  repository: z.object({ full_name: z.string().min(1) }),
});

/** A GitHub issue_comment delivery: a new comment on a pull request (issues have no deployments). */
export function githubCommentEvent(eventName: string, body: unknown): CommentParsed | undefined {
  if (eventName !== 'issue_comment') return undefined;
  const r = GitHubIssueComment.safeParse(body);
  if (!r.success) return { ok: false, issues: r.error.issues };
  const p = r.data;
  if (p.action !== 'created') return { ok: true, ignored: `comment ${p.action}` };
  if (!p.issue.pull_request) return { ok: true, ignored: 'a comment on an issue, not a pull request' };
  const command = parseCommand(p.comment.body ?? '');
  if (!command) return { ok: true, ignored: 'a comment without a /stackwright command' };
  return { ok: true, command: { provider: 'github', repository: p.repository.full_name, number: p.issue.number, author: p.comment.user.login, ...command } };
}

const GitLabNote = z.object({
  object_kind: z.literal('note'),
  user: z.object({ id: z.number().int(), username: z.string().min(1) }),
  project: z.object({ id: z.number().int(), path_with_namespace: z.string().min(1) }),
  object_attributes: z.object({ note: z.string(), noteable_type: z.string(), action: z.string().optional() }),
  merge_request: z.object({ iid: z.number().int().positive() }).nullish(),
});

/** A GitLab Note Hook: a new note on a merge request. */
export function gitlabCommentEvent(eventName: string, body: unknown): CommentParsed | undefined {
  if (eventName !== 'Note Hook') return undefined;
  const r = GitLabNote.safeParse(body);
  if (!r.success) return { ok: false, issues: r.error.issues };
  const p = r.data;
  const a = p.object_attributes;
  if (a.noteable_type !== 'MergeRequest' || !p.merge_request) return { ok: true, ignored: `a note on a ${a.noteable_type}, not a merge request` };
  // Newer GitLab versions say `create` or `update`; an edited note decides nothing.
  if (a.action !== undefined && a.action !== 'create') return { ok: true, ignored: `note ${a.action}` };
  const command = parseCommand(a.note);
  if (!command) return { ok: true, ignored: 'a note without a /stackwright command' };
  return {
    ok: true,
    command: {
      provider: 'gitlab',
      repository: p.project.path_with_namespace,
      projectId: p.project.id,
      number: p.merge_request.iid,
      author: p.user.username,
      authorId: p.user.id,
      ...command,
    },
  };
}
