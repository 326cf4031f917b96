import { log } from '@temporalio/activity';
import { stackKey } from '../shared/names';
import type { ReviewStackInput } from '../shared/review';
import { githubClient, upsertGitHubComment } from '../vcs/github-report';
import { gitlabClient, upsertGitLabNote } from '../vcs/gitlab-report';
import { commentMarker } from '../vcs/report-text';
import type { ReportConfig } from './report';

const WHY: Record<string, string> = {
  merged: 'the pull request was merged',
  closed: 'the pull request was closed',
  ttl: 'no push came within its time to live',
};

/**
 * The review stack's sticky comment, last state: its resources were destroyed and the stack
 * removed. Throws on an API error so that Temporal retries.
 */
export async function reportReviewRemoved(deps: { publicUrl: string; report?: ReportConfig }, input: ReviewStackInput, reason: string): Promise<void> {
  const r = deps.report;
  const body = [
    commentMarker(input.review),
    `### 🗑️ Review stack \`${stackKey(input.review)}\` removed`,
    '',
    `Its resources were destroyed and the stack removed: ${WHY[reason] ?? reason}.`,
    `[Deployments](${deps.publicUrl}/api/stacks/${input.review.org}/${input.review.project}/${input.review.stack}/deployments)`,
  ].join('\n');
  if (input.provider === 'github' && r?.githubToken) {
    await upsertGitHubComment(githubClient({ apiUrl: r.githubApiUrl, token: r.githubToken }), input.repository, input.pullRequest, commentMarker(input.review), body);
  } else if (input.provider === 'gitlab' && r?.gitlabToken) {
    await upsertGitLabNote(gitlabClient({ apiUrl: r.gitlabApiUrl, token: r.gitlabToken }, input.repository), input.pullRequest, commentMarker(input.review), body);
  } else {
    log.debug('no reporting configured for this provider', { provider: input.provider });
  }
}
