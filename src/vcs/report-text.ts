import type { DeploymentInput, DeploymentStatus } from '../shared/deployment';
import { stackKey, type StackRef } from '../shared/names';

export interface ReportOutcome {
  status: DeploymentStatus;
  message?: string;
  resourceChanges?: Record<string, number>;
}

/** What a commit status or pull request comment says about one deployment. */
export interface Report {
  input: DeploymentInput;
  outcome: ReportOutcome;
  /** Where the deployment's logs are. */
  logsUrl: string;
  /** The Pulumi step's output, already masked. */
  output: string[];
}

/** The commit status context: one per stack, so stacks deploying from one repository each show. */
export const statusContext = (input: DeploymentInput): string => `stackwright/${stackKey(input)}`;

/** The hidden marker that finds a stack's comment on a pull request again. */
export const commentMarker = (input: StackRef): string => `<!-- stackwright:${stackKey(input)} -->`;

const OPERATION: Record<DeploymentInput['operation'], string> = {
  update: 'Update',
  preview: 'Preview',
  refresh: 'Refresh',
  destroy: 'Destroy',
  'detect-drift': 'Drift detection',
  'remediate-drift': 'Drift remediation',
};

/** One line, at most `max` characters (GitHub allows 140 in a commit status description). */
export function statusDescription(r: Pick<Report, 'input' | 'outcome'>, max = 140): string {
  const op = OPERATION[r.input.operation];
  const { status, message, resourceChanges } = r.outcome;
  const text =
    status === 'succeeded'
      ? `${op} succeeded${resourceChanges ? `: ${changeSummary(resourceChanges)}` : ''}`
      : status === 'failed'
        ? `${op} failed${message ? `: ${message}` : ''}`
        : status === 'skipped'
          ? (message ?? `${op} skipped`)
          : `${op} running (deployment ${r.input.version})`;
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export function changeSummary(changes: Record<string, number>): string {
  const parts = Object.entries(changes)
    .filter(([op, n]) => n > 0 && op !== 'same')
    .map(([op, n]) => `${n} to ${op}`);
  return parts.length ? parts.join(', ') : 'no changes';
}

/** Output kept in a comment: the end of the log, which holds the summary and any error. */
export const OUTPUT_MAX_LINES = 150;
export const OUTPUT_MAX_CHARS = 30_000;

/** The sticky pull request comment for a finished deployment (Markdown; GitHub and GitLab alike). */
export function commentBody(r: Report): string {
  const { input, outcome } = r;
  const op = OPERATION[input.operation];
  const icon = outcome.status === 'succeeded' ? '✅' : outcome.status === 'failed' ? '❌' : outcome.status === 'skipped' ? '⏭️' : '⏳';
  const lines = [
    commentMarker(input),
    `### ${icon} ${op} of \`${stackKey(input)}\` ${outcome.status}`,
    '',
    `Commit \`${input.trigger?.commit.slice(0, 12) ?? '?'}\` · deployment ${input.version} · [logs](${r.logsUrl})`,
  ];
  if (outcome.message) lines.push('', `> ${outcome.message.replace(/\n/g, '\n> ')}`);
  const changes = Object.entries(outcome.resourceChanges ?? {});
  if (changes.length) {
    lines.push('', '| Operation | Resources |', '| --- | ---: |', ...changes.map(([op, n]) => `| ${op} | ${n} |`));
  }
  if (r.output.length) {
    const { text, dropped } = truncate(r.output);
    // A fence longer than any backtick run in the output, so the output cannot close it.
    const fence = '`'.repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
    lines.push('', '<details><summary>Pulumi output</summary>', '');
    if (dropped) lines.push(`_${dropped} earlier line(s) left out; the full log is behind the link above._`, '');
    lines.push(fence, text, fence, '', '</details>');
  }
  return lines.join('\n');
}

function truncate(output: string[]): { text: string; dropped: number } {
  let kept = output.slice(-OUTPUT_MAX_LINES).map((l) => l.replace(/\n$/, ''));
  while (kept.length > 1 && kept.join('\n').length > OUTPUT_MAX_CHARS) kept = kept.slice(1);
  let text = kept.join('\n');
  if (text.length > OUTPUT_MAX_CHARS) text = `…${text.slice(-OUTPUT_MAX_CHARS)}`;
  return { text, dropped: output.length - kept.length };
}
