import { commentBody, commentMarker, statusContext, statusDescription, type Report } from './report-text';
import { isFinal, REPORT_TIMEOUT_MS } from './github-report';

const STATE = { 'not-started': 'pending', accepted: 'pending', running: 'running', 'waiting-for-approval': 'pending', succeeded: 'success', failed: 'failed', skipped: 'skipped' } as const;

/** A commit status per deployment and, for merge requests, one note per stack (GitLab REST API v4). */
export async function reportToGitLab(o: { apiUrl: string; token: string }, r: Report): Promise<void> {
  const trigger = r.input.trigger!;
  const call = gitlabClient(o, trigger.repository);
  await call('POST', `/statuses/${trigger.commit}`, {
    state: STATE[r.outcome.status],
    name: statusContext(r.input),
    description: statusDescription(r, 255),
    target_url: r.logsUrl,
  });
  if (trigger.event !== 'pull_request' || trigger.pullRequest === undefined || !isFinal(r.outcome.status)) return;

  await upsertGitLabNote(call, trigger.pullRequest, commentMarker(r.input), commentBody(r));
}

export type GitLabCall = (method: string, path: string, body?: object) => Promise<unknown>;

/** Calls to one project of the GitLab REST API v4. */
export function gitlabClient(o: { apiUrl: string; token: string }, repository: string): GitLabCall {
  const base = `${o.apiUrl.replace(/\/+$/, '')}/projects/${encodeURIComponent(repository)}`;
  const signal = AbortSignal.timeout(REPORT_TIMEOUT_MS);
  return async (method, path, body) => {
    const res = await fetch(base + path, {
      method,
      signal,
      headers: { 'PRIVATE-TOKEN': o.token, 'Content-Type': 'application/json' },
      body: body && JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`GitLab ${method} ${path.split('?')[0]}: HTTP ${res.status}`);
    return res.json() as Promise<unknown>;
  };
}

/** The merge request note that starts with `marker`, updated, or created when there is none. */
export async function upsertGitLabNote(call: GitLabCall, mergeRequest: number, marker: string, body: string): Promise<void> {
  const notes = `/merge_requests/${mergeRequest}/notes`;
  const mine = await findNote(call, notes, marker);
  if (mine) await call('PUT', `${notes}/${mine}`, { body });
  else await call('POST', notes, { body });
}

async function findNote(call: (m: string, p: string) => Promise<unknown>, notes: string, marker: string): Promise<number | undefined> {
  for (let page = 1; page <= 50; page++) {
    const list = (await call('GET', `${notes}?per_page=100&page=${page}`)) as { id: number; body?: string }[];
    const mine = list.find((n) => n.body?.startsWith(marker));
    if (mine) return mine.id;
    if (list.length < 100) return undefined;
  }
  return undefined;
}
