import { z } from 'zod';
import { settingsFields, normalizeSettingsInput, type DeploymentSettings } from './settings';
import type { StackRef } from './names';
import { refuseUnsupported } from './unsupported-settings';
import { APPROVAL_OPERATIONS, approvalPolicy } from './approval';

export const Operation = z.enum(['update', 'preview', 'refresh', 'destroy', 'detect-drift', 'remediate-drift']);
export type Operation = z.infer<typeof Operation>;

/** The pulumi command each operation runs, as its step's log shows it. */
export const PULUMI_COMMAND: Record<Operation, string> = {
  update: 'pulumi up',
  preview: 'pulumi preview',
  refresh: 'pulumi refresh',
  destroy: 'pulumi destroy',
  'detect-drift': 'pulumi refresh --preview-only',
  'remediate-drift': 'pulumi up --refresh',
};

/** Body of POST .../deployments: an operation plus optional settings that override stored ones. */
export const CreateDeploymentRequest = z.preprocess(
  normalizeSettingsInput,
  z
    .object({
      operation: Operation,
      inheritSettings: z.boolean().default(true),
      ...settingsFields,
    })
    .strict()
    .superRefine((r, ctx) => {
      refuseUnsupported(r, ctx);
      if (r.operationContext?.options?.requireApproval && !APPROVAL_OPERATIONS.includes(r.operation)) {
        ctx.addIssue({ code: 'custom', path: ['operationContext', 'options', 'requireApproval'], message: `only ${APPROVAL_OPERATIONS.join(', ')} wait for approval, not ${r.operation}` });
      }
      const named = r.operationContext?.operation;
      if (named && named !== r.operation) {
        ctx.addIssue({ code: 'custom', path: ['operationContext', 'operation'], message: `must be empty or "${r.operation}", the operation requested` });
      }
    }),
);
export type CreateDeploymentRequest = z.infer<typeof CreateDeploymentRequest>;

// waiting-for-approval is Stackwright's own (requireApproval): the preview ran, the operation waits for approvals.
export const DeploymentStatus = z.enum(['not-started', 'accepted', 'running', 'waiting-for-approval', 'failed', 'succeeded', 'skipped']);
export type DeploymentStatus = z.infer<typeof DeploymentStatus>;
export const TERMINAL: readonly DeploymentStatus[] = ['failed', 'succeeded', 'skipped'];

export type StepStatus = 'not-started' | 'running' | 'failed' | 'succeeded' | 'skipped';

export const STEP = {
  source: 'Get source',
  install: 'Install dependencies',
  preRun: (n: number) => `Pre-run command ${n}`,
  pulumi: 'Pulumi operation',
  plan: 'Preview for approval',
  approval: 'Approval',
  recover: 'Recover stack',
} as const;

/** The ordered steps a deployment with these settings runs (an operation waiting for approval has two more). */
export function stepNames(settings: DeploymentSettings, operation?: Operation): string[] {
  const pre = settings.operationContext?.preRunCommands ?? [];
  return [
    STEP.source,
    ...(settings.operationContext?.options?.skipInstallDependencies ? [] : [STEP.install]),
    ...pre.map((_, i) => STEP.preRun(i + 1)),
    ...(operation && approvalPolicy(settings, operation) ? [STEP.plan, STEP.approval] : []),
    STEP.pulumi,
  ];
}

/**
 * What workflow code decides on: the operation's options and how many pre-run commands run.
 * Nothing secret and no command text: the settings themselves stay in the deployment's record.
 */
type OperationOptions = NonNullable<NonNullable<DeploymentSettings['operationContext']>['options']>;

export interface DeploymentPlan {
  options: OperationOptions;
  preRunCommands: number;
  /** The runner pool (`agentPoolID`) whose workers run it; unset: any worker of the main queue. */
  pool?: string;
}

export const planOf = (settings: DeploymentSettings): DeploymentPlan => ({
  options: settings.operationContext?.options ?? {},
  preRunCommands: settings.operationContext?.preRunCommands?.length ?? 0,
  ...(typeof settings.agentPoolID === 'string' && settings.agentPoolID ? { pool: settings.agentPoolID } : {}),
});

/** Inputs recorded before the plan existed carried the whole (sealed) settings instead. */
export const planOfInput = (input: Pick<DeploymentInput, 'plan' | 'settings'>): DeploymentPlan => input.plan ?? planOf(input.settings ?? {});

/** What the deployment workflow receives: ids, operation and routing; the settings are read from the store. */
export interface DeploymentInput extends StackRef {
  id: string;
  version: number;
  operation: Operation;
  plan?: DeploymentPlan;
  /** Only in histories recorded before `plan`: the sealed settings. */
  settings?: DeploymentSettings;
  /** Set when a git event started the deployment; results are reported back to it. */
  trigger?: DeploymentTrigger;
  /** When it was requested (ms since the epoch): queued deployments expire after 7 days. */
  requestedAt?: number;
  /** A newer deployment with the same key supersedes this one while it is queued or running. */
  supersedeKey?: string;
  /** Set on the one retry of an interrupted deployment: the id of the deployment it repeats. */
  retryOf?: string;
}

/** The git event behind a deployment (push, tag or pull request). */
export interface DeploymentTrigger {
  provider: 'github' | 'gitlab' | 'custom';
  /** owner/repo (GitHub), group/project (GitLab) or the repository URL (custom). */
  repository: string;
  event: 'push' | 'tag' | 'pull_request';
  commit: string;
  branch?: string;
  tag?: string;
  pullRequest?: number;
}

export interface DeploymentResult {
  status: DeploymentStatus;
  message?: string;
  /** Its Pulumi operation was cut short by a lost worker or the liveness checks (not by a cancel). */
  interrupted?: boolean;
  /** The remediate-drift deployment a detection recorded (remediateIfDriftDetected): the queue runs it next. */
  remediation?: DeploymentInput;
}
