import { githubClient, REPORT_TIMEOUT_MS } from './github-report';
import type { PullRequestCommand } from './comment-event';

/** A git host's API: where it is and the token Stackwright calls it with. */
export interface GitHostApi {
  apiUrl: string;
  token: string;
}

/** GitHub repository roles that may decide (`permission` says admin/write/read/none; `role_name` names maintain too). */
const GITHUB_WRITERS = new Set(['admin', 'maintain', 'write']);
/** GitLab's Developer access level: the lowest that may push to a project. */
const GITLAB_DEVELOPER = 30;

const ownerRepo = (repository: string) => {
  const [owner, ...rest] = repository.split('/');
  return { owner, repo: rest.join('/') };
};

/** Whether the git host says the command's author has write access to the repository. */
export async function hasWriteAccess(api: GitHostApi, cmd: PullRequestCommand): Promise<boolean> {
  if (cmd.provider === 'github') {
    try {
      const { data } = await githubClient(api).rest.repos.getCollaboratorPermissionLevel({ ...ownerRepo(cmd.repository), username: cmd.author });
      return GITHUB_WRITERS.has(data.permission) || GITHUB_WRITERS.has(data.role_name);
    } catch (err) {
      // Octokit's RequestError carries the HTTP status: 404 is an unknown user.
      if ((err as { status?: number }).status === 404) return false;
      throw err;
    }
  }
  const res = await gitlab(api, cmd, 'GET', `/members/all/${cmd.authorId}`);
  if (res.status === 404) return false;
  if (!res.ok) throw new Error(`GitLab GET /members/all: HTTP ${res.status}`);
  const member = (await res.json()) as { access_level?: number };
  return (member.access_level ?? 0) >= GITLAB_DEVELOPER;
}

/** A new comment (GitLab: note) on the command's pull request. */
export async function replyOnPullRequest(api: GitHostApi, cmd: PullRequestCommand, body: string): Promise<void> {
  if (cmd.provider === 'github') {
    await githubClient(api).rest.issues.createComment({ ...ownerRepo(cmd.repository), issue_number: cmd.number, body });
    return;
  }
  const res = await gitlab(api, cmd, 'POST', `/merge_requests/${cmd.number}/notes`, { body });
  if (!res.ok) throw new Error(`GitLab POST /merge_requests/notes: HTTP ${res.status}`);
}

function gitlab(api: GitHostApi, cmd: PullRequestCommand, method: string, path: string, body?: object): Promise<Response> {
  const project = encodeURIComponent(String(cmd.projectId ?? cmd.repository));
  return fetch(`${api.apiUrl.replace(/\/+$/, '')}/projects/${project}${path}`, {
    method,
    signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
    headers: { 'PRIVATE-TOKEN': api.token, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  });
}
