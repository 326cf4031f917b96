import { ApplicationFailure, condition, patched, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { SharedActivities, WorkspaceActivities } from '../activities';
import type { DeploymentInput } from '../shared/deployment';
import { describePlanned, refusal, type ApprovalPolicy, type ApprovalState, type Decision, type DecisionRequest } from '../shared/approval';
import { StatusAttr } from '../shared/search-attributes';
import { approvalQuery, approveUpdate, REFUSED, rejectUpdate } from './approval-definitions';

const shared = proxyActivities<SharedActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '10 seconds' },
});

const hours = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 60_000)}m`);

/**
 * requireApproval: previews with a saved plan in `step`, then waits in `step + 1` (status
 * waiting-for-approval) until enough approvals, a rejection, the timeout or a cancel (the
 * surrounding scope's). Returns the approved change summary; a rejection or the timeout throws
 * the deployment's failure.
 */
export async function previewAndAwaitApproval(
  input: DeploymentInput,
  policy: ApprovalPolicy,
  pulumi: WorkspaceActivities,
  step: number,
  inPulumi: (yes: boolean) => void,
): Promise<Record<string, number>> {
  inPulumi(true);
  const preview = await pulumi.previewForApproval(input, step);
  inPulumi(false);
  const approvalStep = step + 1;
  const deadline = Date.now() + policy.timeoutMs;

  const decisions: Decision[] = [];
  let recorded = 0;
  let requester: { requestedBy?: string } = {};
  let open = false;
  const approvals = () => decisions.filter((d) => d.decision === 'approve').length;
  const rejected = () => decisions.find((d) => d.decision === 'reject');
  const decided = () => rejected() !== undefined || approvals() >= policy.requiredApprovals;
  const state = (): ApprovalState => ({ waiting: open, requiredApprovals: policy.requiredApprovals, approvals: [...decisions] });

  const validator = (req: DecisionRequest) => {
    if (!open) throw ApplicationFailure.create({ type: REFUSED.notWaiting, message: 'the deployment is not waiting for approval', nonRetryable: true });
    const why = refusal(policy, requester.requestedBy, decisions, req);
    if (why) throw ApplicationFailure.create({ type: why.status === 403 ? REFUSED.notAnApprover : REFUSED.alreadyDecided, message: why.message, nonRetryable: true });
  };
  const handler = (decision: Decision['decision']) => async (req: DecisionRequest) => {
    const d: Decision = { ...req, decision, at: new Date().toISOString() };
    decisions.push(d);
    // Counted at once, so that a decision arriving while this one is recorded is judged with it.
    if (decided()) open = false;
    await shared.recordDecision(input, approvalStep, d, policy.requiredApprovals);
    recorded++;
    return state();
  };
  setHandler(approveUpdate, handler('approve'), { validator });
  setHandler(rejectUpdate, handler('reject'), { validator });
  setHandler(approvalQuery, state);

  requester = await shared.requestApproval(input, approvalStep, {
    changeSummary: preview.resourceChanges as Record<string, number>,
    previewStep: step,
    requiredApprovals: policy.requiredApprovals,
    approvers: policy.approvers,
    deadline: new Date(deadline).toISOString(),
  });
  open = true;
  try {
    await shared.setDeploymentStatus(input.id, 'waiting-for-approval');
    upsertSearchAttributes([{ key: StatusAttr, value: 'waiting-for-approval' }]);
    await announce(input, approvalStep, 'deployment_approval_requested', `Waiting for ${policy.requiredApprovals} approval(s) of: ${describePlanned(preview.resourceChanges as Record<string, number>)}.`);

    for (const lead of policy.remindersMs) {
      const wait = deadline - lead - Date.now();
      if (wait <= 0 || decided() || (await condition(decided, wait))) continue;
      await shared.approvalNotice(input, approvalStep, `Reminder: still waiting for approval; it times out in ${hours(lead)}.`);
    }
    const left = deadline - Date.now();
    if (!decided() && (left <= 0 || !(await condition(decided, left)))) {
      open = false;
      await shared.approvalNotice(input, approvalStep, 'Approval timed out.', 'failed');
      throw ApplicationFailure.create({ type: 'ApprovalTimedOut', message: `Failed: approval timed out after ${hours(policy.timeoutMs)} (${approvals()} of ${policy.requiredApprovals} approval(s)).`, nonRetryable: true });
    }
  } finally {
    open = false;
  }
  // The decisions that made up the verdict are in the record and the log before it takes effect.
  await condition(() => recorded === decisions.length);
  const no = rejected();
  if (no) {
    await announce(input, approvalStep, 'deployment_approval_rejected', `Rejected by ${no.name}.`, 'failed');
    throw ApplicationFailure.create({ type: 'ApprovalRejected', message: `Rejected by ${no.name}${no.comment ? `: ${no.comment}` : '.'}`, nonRetryable: true });
  }
  await announce(input, approvalStep, 'deployment_approval_approved', `Approved by ${decisions.map((d) => d.name).join(', ')}.`, 'succeeded');
  await shared.setDeploymentStatus(input.id, 'running');
  upsertSearchAttributes([{ key: StatusAttr, value: 'running' }]);
  return preview.resourceChanges as Record<string, number>;
}

/** Approval events also go to outgoing webhooks (histories recorded before that replay without it). */
const APPROVAL_EVENTS_PATCH = 'approval-events';

type ApprovalEvent = 'deployment_approval_requested' | 'deployment_approval_approved' | 'deployment_approval_rejected';

/** An approval event: kept in the approval step's log under its event name, and published to hooks. */
async function announce(input: DeploymentInput, step: number, event: ApprovalEvent, text: string, stepStatus?: 'succeeded' | 'failed'): Promise<void> {
  await shared.approvalNotice(input, step, `${text} [${event}]`, stepStatus);
  if (!patched(APPROVAL_EVENTS_PATCH)) return;
  // Hooks are told, never waited on: a publish that fails does not hold the deployment.
  const published = { kind: event, organization: input.org, project: input.project, stack: input.stack, deploymentId: input.id, data: { message: text } };
  await shared.publishEvent(published).catch(() => undefined);
}
