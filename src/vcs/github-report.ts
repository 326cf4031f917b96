import { Octokit } from '@octokit/rest';
import { commentBody, commentMarker, statusContext, statusDescription, type Report } from './report-text';

const STATE = { 'not-started': 'pending', accepted: 'pending', running: 'pending', 'waiting-for-approval': 'pending', succeeded: 'success', failed: 'failure' } as const;

/**
 * Commit statuses rather than check runs: statuses work with any token (check runs need a GitHub
 * App). A superseded or skipped deployment is reported `success` with its reason as the
 * description: the only other final states, `failure` and `error`, would flag a commit nothing
 * went wrong with, and it is no longer the head of its pull request, so it gates no merge.
 */
export async function reportToGitHub(o: { apiUrl: string; token: string }, r: Report): Promise<void> {
  const trigger = r.input.trigger!;
  const [owner, ...rest] = trigger.repository.split('/');
  const repo = rest.join('/');
  const octokit = githubClient(o);
  const status = r.outcome.status;
  await octokit.rest.repos.createCommitStatus({
    owner,
    repo,
    sha: trigger.commit,
    state: status === 'skipped' ? 'success' : STATE[status],
    context: statusContext(r.input),
    description: statusDescription(r),
    target_url: r.logsUrl,
  });
  if (trigger.event !== 'pull_request' || trigger.pullRequest === undefined || !isFinal(status)) return;

  await upsertGitHubComment(octokit, trigger.repository, trigger.pullRequest, commentMarker(r.input), commentBody(r));
}

export function githubClient(o: { apiUrl: string; token: string }): Octokit {
  return new Octokit({
    auth: o.token,
    baseUrl: o.apiUrl.replace(/\/+$/, ''),
    userAgent: 'stackwright',
    log: silent,
    // A hung API must not hold the activity (or a queue's skip) until its own timeout.
    request: { signal: AbortSignal.timeout(REPORT_TIMEOUT_MS) },
  });
}

/** The pull request comment that starts with `marker`, updated, or created when there is none. */
export async function upsertGitHubComment(octokit: Octokit, repository: string, pullRequest: number, marker: string, body: string): Promise<void> {
  const [owner, ...rest] = repository.split('/');
  const repo = rest.join('/');
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: pullRequest, per_page: 100 });
  const mine = comments.find((c) => c.body?.startsWith(marker));
  if (mine) await octokit.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body });
  else await octokit.rest.issues.createComment({ owner, repo, issue_number: pullRequest, body });
}

/** The comment describes a result; a superseded preview leaves it to the preview that replaced it. */
export const isFinal = (status: string): boolean => status === 'succeeded' || status === 'failed';

/** The whole report (status, comment lookup and write) has this long. */
export const REPORT_TIMEOUT_MS = 20_000;

const silent = { debug() {}, info() {}, warn() {}, error() {} };
