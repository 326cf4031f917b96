import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type { Stack } from '@pulumi/pulumi/automation';
import { PULUMI_COMMAND, type Operation } from '../shared/deployment';
import { describePlanned } from '../shared/approval';
import type { OpenDeployment } from './context';
import type { LogWriter } from './log-writer';
import { giveToSandbox } from './sandbox';
import { fromPreview, fromResult, type PulumiSummary, type RunOptions } from './pulumi';

/**
 * requireApproval runs an operation in two halves: a preview that saves Pulumi's update plan, and,
 * once approved, the operation constrained to that plan (`pulumi up --plan`): the engine refuses any
 * step the plan does not allow, so what runs is what was approved. `pulumi destroy` takes no plan:
 * a destroy previews again right before it runs, and any difference from the approved preview's
 * change summary voids the approval.
 */
export type ApprovalPhase = { kind: 'run' } | { kind: 'plan'; planFile: string } | { kind: 'apply'; planFile: string; approved: Record<string, number> };

/** Where the plan is kept: in the deployment's workspace, which the sandbox may write and which outlives a worker restart. */
export function planFile(o: OpenDeployment): string {
  const dir = join(o.workspace, 'approval');
  mkdirSync(dir, { recursive: true });
  giveToSandbox(dir);
  return join(dir, 'plan.json');
}

const usesPlan = (op: Operation) => op !== 'destroy';

/** The command line a phase runs, for the step's log. */
export function commandOf(op: Operation, phase: ApprovalPhase): string {
  if (phase.kind === 'run') return PULUMI_COMMAND[op];
  if (phase.kind === 'plan') {
    if (!usesPlan(op)) return 'pulumi destroy --preview-only';
    return `${op === 'remediate-drift' ? 'pulumi preview --refresh' : 'pulumi preview'} --save-plan ${phase.planFile}`;
  }
  return usesPlan(op) ? `${PULUMI_COMMAND[op]} --plan ${phase.planFile}` : PULUMI_COMMAND[op];
}

export async function runApprovalPhase(op: Operation, phase: Exclude<ApprovalPhase, { kind: 'run' }>, stack: Stack, opts: RunOptions, log: LogWriter): Promise<PulumiSummary> {
  const plan = phase.planFile;
  if (phase.kind === 'plan') {
    if (op === 'destroy') return fromPreview(await stack.previewDestroy(opts));
    return fromPreview(await stack.preview({ ...opts, plan, refresh: op === 'remediate-drift' }));
  }
  if (op === 'destroy') {
    const now = fromPreview(await stack.previewDestroy(opts)).resourceChanges;
    if (!sameChanges(now, phase.approved)) {
      throw ApplicationFailure.nonRetryable(
        `The approved plan no longer applies (the stack changed since its preview): approved ${describePlanned(phase.approved)}, now ${describePlanned(now)}; nothing was destroyed.`,
        'PlanNoLongerApplies',
      );
    }
    log.line('The stack still matches the approved preview: destroying.');
    return fromResult(await stack.destroy(opts));
  }
  return fromResult(await stack.up({ ...opts, plan, refresh: op === 'remediate-drift' }));
}

function sameChanges(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}
