import { z } from 'zod';
import { roleIncludes, Role } from './identity';
import type { DeploymentTrigger, Operation } from './deployment';
import type { DeploymentSettings } from './settings';

// operationContext.options.requireApproval: a Stackwright extension (Pulumi Deployments has no approvals).

/** The operations that wait for approval when requireApproval is set; the others run as usual. */
export const APPROVAL_OPERATIONS: readonly Operation[] = ['update', 'destroy', 'remediate-drift'];

const DURATION = /^(\d{1,5})(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_TIMEOUT_MS = 30 * UNIT_MS.d;

/** "90m", "72h", "3d" in milliseconds. */
export function durationMs(s: string): number {
  const m = DURATION.exec(s);
  if (!m) throw new TypeError(`not a duration: ${s}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

const Duration = z
  .string()
  .regex(DURATION, 'expected a duration such as "30m", "72h" or "3d"')
  .refine((s) => !DURATION.test(s) || durationMs(s) > 0, 'must be longer than zero');
const validMs = (s: string | null | undefined): number | undefined => (s && DURATION.test(s) ? durationMs(s) : undefined);

/** An approver: a token name, or `role:<role>` for every token with that role or a higher one. */
const Approver = z
  .string()
  .min(1)
  .max(128)
  .refine((a) => !a.startsWith('role:') || (Role.options as string[]).includes(a.slice(5)), 'role:<role> names admin, deployer or viewer');

export const RequireApproval = z
  .object({
    approvers: z.array(Approver).max(100).nullish(),
    requiredApprovals: z.number().int('expected an integer').min(1).max(20).nullish(),
    allowSelfApproval: z.boolean().nullish(),
    approvalTimeout: Duration.refine((s) => (validMs(s) ?? 0) <= MAX_TIMEOUT_MS, 'must be at most 30d').nullish(),
    reminders: z.array(Duration).max(10).nullish(),
    // Only true (the behaviour) is accepted: letting later deployments run past a waiting one is not built.
    holdQueue: z
      .boolean()
      .nullish()
      .refine((v) => v !== false, 'false is not available: a deployment waiting for approval always holds its stack’s queue, so later deployments never run between its preview and its apply'),
  })
  .strict()
  .superRefine((r, ctx) => {
    const names = (r.approvers ?? []).filter((a) => !a.startsWith('role:'));
    const onlyNames = names.length === (r.approvers ?? []).length && names.length > 0;
    if (onlyNames && r.requiredApprovals && r.requiredApprovals > new Set(names).size) {
      ctx.addIssue({ code: 'custom', path: ['requiredApprovals'], message: `${r.requiredApprovals} approvals can never be given by the ${new Set(names).size} approver(s) listed` });
    }
    const timeout = validMs(r.approvalTimeout ?? DEFAULT_TIMEOUT) ?? Infinity;
    (r.reminders ?? []).forEach((lead, i) => {
      if ((validMs(lead) ?? 0) >= timeout) ctx.addIssue({ code: 'custom', path: ['reminders', i], message: 'a reminder is a lead time before the approval timeout, so it must be shorter than it' });
    });
  });
export type RequireApproval = z.infer<typeof RequireApproval>;

const DEFAULT_TIMEOUT = '72h';

/** requireApproval with its defaults applied, as the workflow enforces it. */
export interface ApprovalPolicy {
  approvers: string[];
  requiredApprovals: number;
  allowSelfApproval: boolean;
  timeoutMs: number;
  /** Lead times before the timeout, longest first. */
  remindersMs: number[];
}

/** The policy a deployment waits under, or undefined when it does not wait. */
export function approvalPolicy(settings: DeploymentSettings, operation: Operation): ApprovalPolicy | undefined {
  const r = settings.operationContext?.options?.requireApproval as RequireApproval | undefined;
  if (!r || !APPROVAL_OPERATIONS.includes(operation)) return undefined;
  return {
    approvers: r.approvers ?? [],
    requiredApprovals: r.requiredApprovals ?? 1,
    allowSelfApproval: r.allowSelfApproval ?? false,
    timeoutMs: durationMs(r.approvalTimeout ?? DEFAULT_TIMEOUT),
    remindersMs: [...new Set((r.reminders ?? []).map(durationMs))].sort((a, b) => b - a),
  };
}

/** A git host user as a decider: `github:<login>`, `gitlab:<username>`. */
export const gitHostIdentity = (provider: 'github' | 'gitlab', user: string): string => `${provider}:${user}`;

/**
 * Who requested a deployment, as deciders are named (who may not approve it without
 * allowSelfApproval): a token's name, or for a git event the git host user who pushed or opened
 * the pull request.
 */
export function requesterIdentity(record: { initiator: string; requestedBy: string }, trigger: DeploymentTrigger | undefined): string {
  const host = trigger?.provider;
  return record.initiator === 'webhook' && (host === 'github' || host === 'gitlab') ? gitHostIdentity(host, record.requestedBy) : record.requestedBy;
}

/** Who decides: an API token (its name and role) or a git host user (`github:<login>`, write access checked). */
export interface Decider {
  name: string;
  role: Role;
  source: 'api' | 'pull-request';
}

export interface DecisionRequest extends Decider {
  comment?: string;
}

/** One decision as the record, the log and the workflow keep it. */
export interface Decision extends DecisionRequest {
  decision: 'approve' | 'reject';
  at: string;
}

/** What approve and reject answer, and what a waiting deployment shows. */
export interface ApprovalState {
  waiting: boolean;
  requiredApprovals: number;
  approvals: Decision[];
}

/** Why a decider may not decide (the HTTP status says which kind), or undefined when they may. */
export function refusal(policy: ApprovalPolicy, requestedBy: string | undefined, decisions: readonly Decision[], who: Decider): { status: 403 | 409; message: string } | undefined {
  if (!policy.allowSelfApproval && requestedBy !== undefined && who.name === requestedBy) {
    return { status: 403, message: `"${who.name}" requested this deployment and may not decide on it (allowSelfApproval is false)` };
  }
  const listed = policy.approvers.some((a) => a === who.name || (a.startsWith('role:') && roleIncludes(who.role, a.slice(5) as Role)));
  if (policy.approvers.length > 0 && !listed) return { status: 403, message: `"${who.name}" is not one of this deployment's approvers` };
  if (policy.approvers.length === 0 && !roleIncludes(who.role, 'deployer')) return { status: 403, message: `"${who.name}" needs the deployer role to decide` };
  if (decisions.some((d) => d.name === who.name)) return { status: 409, message: `"${who.name}" has already decided on this deployment` };
  return undefined;
}

/** Changes that Pulumi would make, as "2 to create, 1 to update". */
export function describePlanned(changes: Record<string, number>): string {
  const parts = Object.entries(changes)
    .filter(([op, n]) => op !== 'same' && n > 0)
    .map(([op, n]) => `${n} to ${op}`);
  return parts.length ? parts.join(', ') : 'no changes';
}

/** What a deployment waiting for approval asks to be approved (kept on its record). */
export interface ApprovalRequest {
  /** The preview's change summary, as Pulumi counts it. */
  changeSummary: Record<string, number>;
  /** The step whose log holds the preview. */
  previewStep: number;
  requiredApprovals: number;
  approvers: string[];
  /** When the approval times out (ISO 8601). */
  deadline: string;
}
