import { z } from 'zod';
import { ProjectName, StackName } from './names';

// Outgoing webhooks ("hooks", as in Pulumi's paths): one schema per concept, used by the API, the
// activities that publish and deliver events, and the delivery workflow.

export const HookFormat = z.enum(['raw', 'slack', 'ms_teams', 'pulumi_deployments']);
export type HookFormat = z.infer<typeof HookFormat>;

/** Pulumi's webhook kinds (the Pulumi-Webhook-Kind header), plus Stackwright's own. */
export type HookKind =
  | 'stack'
  | 'stack_preview'
  | 'stack_update'
  | 'deployment'
  | 'drift_detection'
  | 'drift_remediation'
  | 'policy_violation'
  | 'deployment_ttl'
  | 'deployment_approval'
  | 'ping';

/** Every event a hook may filter on (Pulumi's filter names), with its kind. The last five are Stackwright's. */
export const EVENT_KINDS = {
  stack_created: 'stack',
  stack_deleted: 'stack',
  preview_succeeded: 'stack_preview',
  preview_failed: 'stack_preview',
  update_succeeded: 'stack_update',
  update_failed: 'stack_update',
  destroy_succeeded: 'stack_update',
  destroy_failed: 'stack_update',
  refresh_succeeded: 'stack_update',
  refresh_failed: 'stack_update',
  deployment_queued: 'deployment',
  deployment_started: 'deployment',
  deployment_succeeded: 'deployment',
  deployment_failed: 'deployment',
  drift_detected: 'drift_detection',
  drift_detection_succeeded: 'drift_detection',
  drift_detection_failed: 'drift_detection',
  drift_remediation_succeeded: 'drift_remediation',
  drift_remediation_failed: 'drift_remediation',
  policy_violation_mandatory: 'policy_violation',
  policy_violation_advisory: 'policy_violation',
  // Extensions: schedules' TTL warning and deployment approvals.
  deployment_ttl_warning: 'deployment_ttl',
  deployment_approval_requested: 'deployment_approval',
  deployment_approval_approved: 'deployment_approval',
  deployment_approval_rejected: 'deployment_approval',
} as const satisfies Record<string, HookKind>;

export type HookEventName = keyof typeof EVENT_KINDS;
export const HookEventName = z.enum(Object.keys(EVENT_KINDS) as [HookEventName, ...HookEventName[]], {
  error: (i) => `unknown event ${JSON.stringify(i.input)}; expected one of ${Object.keys(EVENT_KINDS).join(', ')}`,
});

/** Pulumi's groups, plus `approvals` for the approval events. */
export const GROUPS = {
  stacks: ['stack', 'stack_preview', 'stack_update'],
  deployments: ['deployment', 'drift_detection', 'drift_remediation', 'deployment_ttl'],
  approvals: ['deployment_approval'],
} as const satisfies Record<string, HookKind[]>;
export type HookGroup = keyof typeof GROUPS;
export const HookGroup = z.enum(Object.keys(GROUPS) as [HookGroup, ...HookGroup[]], {
  error: (i) => `unknown group ${JSON.stringify(i.input)}; expected one of ${Object.keys(GROUPS).join(', ')}`,
});

/** Which events a hook receives: its filters if any, else its groups if any, else every event. */
export function hookWants(hook: { filters: string[]; groups: string[] }, event: HookEventName): boolean {
  if (hook.filters.length) return hook.filters.includes(event);
  if (hook.groups.length) return hook.groups.some((g) => (GROUPS[g as HookGroup] as readonly string[] | undefined)?.includes(EVENT_KINDS[event]));
  return true;
}

/** A literal address a hook must not be sent to: loopback, private, link-local, unspecified, metadata. */
export function isPrivateAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(h.replace(/^::ffff:/, ''));
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  if (h === '::' || h === '::1') return true;
  if (/^f[cd][0-9a-f]{0,2}:/.test(h) || /^fe[89ab][0-9a-f]?:/.test(h)) return true; // fc00::/7 (incl. fd00:ec2::254), fe80::/10
  return h === 'localhost' || h.endsWith('.localhost') || h === 'metadata' || h === 'metadata.google.internal';
}

/** A `pulumi_deployments` hook's payloadUrl: the target stack, `<project>/<stack>`, in the hook's organization. */
export function deploymentTarget(payloadUrl: string): { project: string; stack: string } | undefined {
  const [project, stack, ...rest] = payloadUrl.split('/');
  if (rest.length || !ProjectName.safeParse(project).success || !StackName.safeParse(stack).success) return undefined;
  return { project, stack };
}

const urlIssue = (format: HookFormat | undefined, url: string): string | undefined => {
  if (format === 'pulumi_deployments') return deploymentTarget(url) ? undefined : 'a pulumi_deployments hook takes "<project>/<stack>" as its payloadUrl';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'expected an http or https URL';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'expected an http or https URL';
  if (u.username || u.password) return 'credentials in the URL are not allowed; use the secret';
  return undefined;
};

const Secret = z.string().min(1, 'must not be empty').max(1024);

const fields = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' and '-', at most 64").optional(),
  organizationName: z.string().optional(),
  projectName: z.string().optional(),
  stackName: z.string().optional(),
  displayName: z.string().min(1, 'is required').max(200),
  payloadUrl: z.string().min(1, 'is required').max(2048),
  secret: Secret.nullish(),
  active: z.boolean(),
  format: HookFormat.nullish(),
  filters: z.array(HookEventName).max(50).nullish(),
  groups: z.array(HookGroup).max(10).nullish(),
};

/** POST .../hooks. */
export const CreateHook = z
  .object(fields)
  .strict()
  .superRefine((h, ctx) => {
    const problem = urlIssue(h.format ?? 'raw', h.payloadUrl);
    if (problem) ctx.addIssue({ code: 'custom', path: ['payloadUrl'], message: problem });
  });
export type CreateHook = z.infer<typeof CreateHook>;

/** PATCH .../hooks/{name}: any field; the URL is checked against the hook's resulting format by the route. */
export const PatchHook = z.object({ ...fields, displayName: fields.displayName.optional(), payloadUrl: fields.payloadUrl.optional(), active: fields.active.optional() }).strict();
export type PatchHook = z.infer<typeof PatchHook>;

export { urlIssue as hookUrlIssue };

/**
 * What a workflow hands to `publishEvent`: `kind` is the event's filter name (`update_succeeded`,
 * `drift_detected`, `deployment_approval_requested`, ...); `data` is merged into the payload after the
 * fields Stackwright fills in (organization, projectName, stackName, and for a deployment its
 * deploymentUrl, version, operation and status).
 */
export const PublishedEvent = z.object({
  kind: HookEventName,
  organization: z.string().min(1),
  project: z.string().min(1),
  stack: z.string().min(1),
  deploymentId: z.string().optional(),
  data: z.record(z.string(), z.unknown()).default({}),
});
export type PublishedEvent = z.input<typeof PublishedEvent>;

/** How a delivery is retried; tests shorten it (STACKWRIGHT_HOOK_RETRY_SECONDS). */
export interface HookRetry {
  initialIntervalMs: number;
  maximumAttempts: number;
}

/** The one delivery workflow's input: everything else is read from the store. */
export interface HookDeliveryInput {
  deliveryId: string;
  retry: HookRetry;
}

/** When a dependent stack is deployed after its upstream's update. */
export const DependentCondition = z.enum(['succeeded', 'changed']);
export type DependentCondition = z.infer<typeof DependentCondition>;

/** POST .../dependents: a stack of the same organization deployed after this one. */
export const CreateDependent = z
  .object({ projectName: ProjectName, stackName: StackName, when: DependentCondition.nullish() })
  .strict();
export type CreateDependent = z.infer<typeof CreateDependent>;

const OPERATION_EVENTS: Record<string, string> = {
  update: 'update',
  preview: 'preview',
  refresh: 'refresh',
  destroy: 'destroy',
  'detect-drift': 'drift_detection',
  'remediate-drift': 'drift_remediation',
};

/** The operation event of a deployment that ended (`update_succeeded`, `drift_detection_failed`, ...). */
export const operationEvent = (operation: string, succeeded: boolean): HookEventName =>
  `${OPERATION_EVENTS[operation]}_${succeeded ? 'succeeded' : 'failed'}` as HookEventName;
