import type { StepStatus, DeploymentInput } from '../shared/deployment';
import { describePlanned, requesterIdentity, type ApprovalRequest, type Decision } from '../shared/approval';
import { appendDecision, saveApprovalRequest } from '../store/approvals';
import { openDeployment, type ActivityDeps, type WorkspaceDeps } from './context';
import { LogWriter } from './log-writer';
import { Masker } from './masker';
import { pulumiOperation } from './pulumi';
import { planFile } from './approval-plan';
import { runStep } from './step';

/** Lines in the approval step's log (decisions, reminders, the outcome); `status` closes the step. */
async function approvalLog(deps: ActivityDeps, id: string, step: number, lines: string[], status?: StepStatus): Promise<void> {
  const log = await LogWriter.open(deps.store, id, step, new Masker([]));
  for (const l of lines) log.line(`${new Date().toISOString()} ${l}`);
  await log.close();
  if (status) await deps.store.setStep(id, step, status);
}

/** requireApproval's activities that touch only the store. */
export function approvalSharedActivities(deps: ActivityDeps) {
  return {
    /** Keeps what is to be approved, opens the approval step, and says who requested the deployment (who may not approve it). */
    async requestApproval(input: DeploymentInput, step: number, request: ApprovalRequest): Promise<{ requestedBy?: string }> {
      const record = await deps.store.getDeploymentById(input.id);
      await saveApprovalRequest(deps.store.db, input.id, request);
      await deps.store.setStep(input.id, step, 'running');
      const who = request.approvers.length ? request.approvers.join(', ') : 'any token with the deployer role';
      await approvalLog(deps, input.id, step, [
        `Preview (step ${request.previewStep}): ${describePlanned(request.changeSummary)}.`,
        `Approvers: ${who}; ${request.requiredApprovals} approval(s) needed; times out at ${request.deadline}.`,
      ]);
      return record ? { requestedBy: requesterIdentity(record, input.trigger) } : {};
    },

    /** One approve or reject, in the record and the log. */
    async recordDecision(input: DeploymentInput, step: number, d: Decision, required: number): Promise<void> {
      await appendDecision(deps.store.db, input.id, d);
      const what = d.decision === 'approve' ? `Approved by ${d.name}` : `Rejected by ${d.name}`;
      const via = d.source === 'pull-request' ? ' (pull request comment)' : '';
      const count = d.decision === 'approve' ? ` [${required} needed]` : '';
      await approvalLog(deps, input.id, step, [`${what}${via}${d.comment ? `: ${d.comment}` : ''}${count}`]);
    },

    approvalNotice: (input: DeploymentInput, step: number, line: string, status?: StepStatus) => approvalLog(deps, input.id, step, [line], status),
  };
}

/** requireApproval's Pulumi steps, on the worker holding the workspace (where the plan is kept). */
export function approvalWorkspaceActivities(deps: WorkspaceDeps) {
  return {
    previewForApproval: async (input: DeploymentInput, step: number) => {
      const o = await openDeployment(deps, input);
      return runStep(deps, o, step, async (log) => {
        const summary = await pulumiOperation(o, log, deps, { kind: 'plan', planFile: planFile(o) });
        log.line(`To be approved: ${describePlanned(summary.resourceChanges as Record<string, number>)}.`);
        return summary;
      });
    },

    applyApproved: async (input: DeploymentInput, step: number, approved: Record<string, number>) => {
      const o = await openDeployment(deps, input);
      return runStep(deps, o, step, async (log) => {
        const summary = await pulumiOperation(o, log, deps, { kind: 'apply', planFile: planFile(o), approved });
        await deps.workspaceStore.recordChanges(input.id, summary.resourceChanges, null);
        return summary;
      });
    },
  };
}
