import type { DeploymentRecord } from '../store/store';
import { isSealed } from '../shared/secrets';

/** Go's zero time: what Pulumi reports for a step that has not started. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

// Pulumi formats created/modified as "2022-10-17 22:12:34.834".
export const pulumiTime = (iso: string) => iso.replace('T', ' ').replace('Z', '');

/** `updates`: the Pulumi updates the deployment made (Pulumi's DeploymentNestedUpdate). */
export function presentDeployment(d: DeploymentRecord, latestVersion: number, updates: object[] = []) {
  const git = d.settings.sourceContext?.git;
  const env = Object.entries(d.settings.operationContext?.environmentVariables ?? {}).map(([name, v]) =>
    isSealed(v) ? { name, secret: true } : { name, value: v, secret: false },
  );
  return {
    id: d.id,
    created: pulumiTime(d.created),
    modified: pulumiTime(d.modified),
    status: d.status,
    version: d.version,
    latestVersion,
    message: d.message ?? undefined,
    requestedBy: { name: d.requestedBy, githubLogin: d.requestedBy, avatarUrl: '' },
    projectName: d.project,
    stackName: d.stack,
    pulumiOperation: d.operation,
    initiator: d.initiator,
    inheritSettings: d.inheritSettings,
    jobs: [
      {
        status: d.status,
        started: d.started ?? ZERO_TIME,
        lastUpdated: d.modified,
        steps: d.steps.map((s) => ({
          name: s.name,
          // Pulumi's step statuses have no "skipped": a step that never ran has not started.
          status: s.status === 'skipped' ? 'not-started' : s.status,
          started: s.started ?? ZERO_TIME,
          lastUpdated: s.lastUpdated ?? ZERO_TIME,
        })),
      },
    ],
    configuration: {
      environmentVariables: [
        ...env,
        { name: 'PULUMI_CI_BUILD_ID', value: d.id, secret: false },
        { name: 'PULUMI_CI_BUILD_NUMBER', value: String(d.version), secret: false },
        { name: 'PULUMI_CI_SYSTEM', value: 'Stackwright', secret: false },
      ],
      source: git ? { git: { repoURL: git.repoURL, branch: git.branch, commit: git.commit, repoDir: git.repoDir } } : {},
    },
    updates,
    ...presentApproval(d),
  };
}

/** requireApproval (a Stackwright extension): what waits for approval, with a link to the preview's log, and every decision. */
function presentApproval(d: DeploymentRecord) {
  const r = d.approvalRequest;
  if (!r) return {};
  const logs = `/api/stacks/${d.org}/${d.project}/${d.stack}/deployments/${d.id}/logs?step=${r.previewStep}`;
  return {
    approval: { changeSummary: r.changeSummary, previewLogs: logs, requiredApprovals: r.requiredApprovals, approvers: r.approvers, deadline: r.deadline },
    approvals: d.approvals ?? [],
  };
}
