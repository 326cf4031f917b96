import { Octokit } from '@octokit/rest';
import { REPORT_TIMEOUT_MS } from './github-report';

/**
 * The files a GitHub pull request changes (renames count under both names), for path filters: the
 * webhook does not list them. GitHub lists at most 3000.
 */
export async function githubPullRequestFiles(o: { apiUrl: string; token: string }, repository: string, pullNumber: number): Promise<string[]> {
  const [owner, ...rest] = repository.split('/');
  const octokit = new Octokit({
    auth: o.token,
    baseUrl: o.apiUrl.replace(/\/+$/, ''),
    userAgent: 'stackwright',
    request: { signal: AbortSignal.timeout(REPORT_TIMEOUT_MS) },
  });
  const files = await octokit.paginate(octokit.rest.pulls.listFiles, { owner, repo: rest.join('/'), pull_number: pullNumber, per_page: 100 });
  return [...new Set(files.flatMap((f) => (f.previous_filename ? [f.filename, f.previous_filename] : [f.filename])))];
}
