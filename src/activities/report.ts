import { log } from '@temporalio/activity';
import { stepNames, type DeploymentInput } from '../shared/deployment';
import { sealedSettings } from '../deployments/create';
import type { Store } from '../store/store';
import { reportToGitHub } from '../vcs/github-report';
import { reportToGitLab } from '../vcs/gitlab-report';
import { OUTPUT_MAX_LINES, type ReportOutcome } from '../vcs/report-text';

export type { ReportOutcome } from '../vcs/report-text';

/** Where deployments started by git events report back. A provider without a token is not reported to. */
export interface ReportConfig {
  githubApiUrl: string;
  githubToken?: string;
  gitlabApiUrl: string;
  gitlabToken?: string;
}

/**
 * Reports a git-triggered deployment's state to the commit (and pull request) it ran for. Throws on
 * an API error so that Temporal retries; the workflow gives up after a few attempts and goes on.
 */
export async function reportDeployment(
  deps: { store: Store; publicUrl: string; report?: ReportConfig },
  input: DeploymentInput,
  outcome: ReportOutcome,
): Promise<void> {
  const trigger = input.trigger;
  if (!trigger || !deps.report) return;
  const { githubApiUrl, githubToken, gitlabApiUrl, gitlabToken } = deps.report;
  const send =
    trigger.provider === 'github' && githubToken
      ? (r: Parameters<typeof reportToGitHub>[1]) => reportToGitHub({ apiUrl: githubApiUrl, token: githubToken }, r)
      : trigger.provider === 'gitlab' && gitlabToken
        ? (r: Parameters<typeof reportToGitLab>[1]) => reportToGitLab({ apiUrl: gitlabApiUrl, token: gitlabToken }, r)
        : undefined;
  if (!send) {
    log.debug('no reporting configured for this provider', { provider: trigger.provider });
    return;
  }
  const logsUrl = `${deps.publicUrl}/api/stacks/${input.org}/${input.project}/${input.stack}/deployments/${input.id}/logs`;
  await send({ input, outcome, logsUrl, output: outcome.status === 'running' ? [] : await pulumiOutput(deps.store, input) });
}

/** The end of the Pulumi step's log; lines were masked when they were stored. */
async function pulumiOutput(store: Store, input: DeploymentInput): Promise<string[]> {
  const step = stepNames(await sealedSettings(store, input), input.operation).length - 1;
  const total = await store.countLogs(input.id, step);
  // One line more than a comment shows, so it can say that earlier lines were left out.
  const from = Math.max(0, total - OUTPUT_MAX_LINES - 1);
  const rows = await store.readLogs(input.id, step, from, OUTPUT_MAX_LINES + 1);
  return rows.map((r) => r.line);
}
