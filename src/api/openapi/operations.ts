import { z } from 'zod';
import { CreateDeploymentRequest } from '../../shared/deployment';
import { DeploymentSettingsInput } from '../../shared/settings';
import { CreateDependent, CreateHook, PatchHook } from '../../shared/hooks';
import { CreateScheduleRequest, DriftScheduleRequest, TtlScheduleRequest } from '../../shared/schedules';
import { CreateTokenRequest } from '../../shared/tokens';
import { ListQuery } from '../list-query';
import { PageQuery } from '../paging';
import { LogsQuery } from '../routes/deployments';
import { DecisionBody } from '../routes/approvals';
import { SecretToEncrypt } from '../routes/settings';
import { BatchDecryptRequest, CreateStackRequest, DecryptRequest, HistoryQuery } from '../routes/stack';
import * as A from './answers';

/** One route of the API as the description shows it; path parameters are read from `path`. */
export interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Hono's form: /api/stacks/:org/... */
  path: string;
  summary: string;
  tag: string;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The success status and its answer (JSON unless `sse`); no answer schema: any JSON. */
  ok?: number;
  answer?: z.ZodType;
  /** Also answers Server-Sent Events for `Accept: text/event-stream`. */
  sse?: boolean;
  /** Answers something else than JSON (HTML, JavaScript, CSS). */
  contentType?: string;
  /** No API token (webhooks sign their bodies; the description itself is public). */
  public?: boolean;
}

const S = '/api/stacks/:org/:project/:stack';
const D = `${S}/deployments`;
const tagged = (tag: string, ops: Omit<Operation, 'tag'>[]): Operation[] => ops.map((o) => ({ ...o, tag }));

const stack: Operation[] = tagged('Stacks', [
  { method: 'get', path: S, summary: 'The stack (what `pulumi` reads before anything else)', answer: A.Stack },
  { method: 'get', path: `${S}/export`, summary: "The stack's checkpoint, secrets as the service provider's ciphertexts" },
  { method: 'post', path: `${S}/decrypt`, summary: 'Decrypt one secret of the export', body: DecryptRequest },
  { method: 'post', path: `${S}/batch-decrypt`, summary: 'Decrypt secrets of the export', body: BatchDecryptRequest },
  { method: 'get', path: `${S}/updates`, summary: "The stack's update history", query: HistoryQuery },
  { method: 'get', path: `${S}/updates/latest`, summary: 'The latest update' },
  { method: 'get', path: `${S}/updates/:version`, summary: 'One update' },
  { method: 'get', path: `${D}/:id/updates`, summary: 'The updates a deployment made' },
  { method: 'post', path: '/api/stacks/:org/:project', summary: 'Create a stack (`pulumi stack init`)', body: CreateStackRequest },
]);

const deployments: Operation[] = tagged('Deployments', [
  { method: 'post', path: D, summary: 'Queue a deployment', body: CreateDeploymentRequest, ok: 202, answer: A.CreatedDeployment },
  { method: 'get', path: D, summary: "The stack's deployments", query: ListQuery, answer: A.DeploymentList },
  { method: 'get', path: `${D}/version/:version`, summary: 'A deployment by version', answer: A.Deployment },
  { method: 'get', path: `${D}/:id`, summary: 'A deployment', answer: A.Deployment },
  { method: 'get', path: `${D}/:id/logs`, summary: "A deployment's log (JSON, or followed as Server-Sent Events)", query: LogsQuery, answer: A.LogAnswer, sse: true },
  { method: 'post', path: `${D}/:id/cancel`, summary: 'Cancel a queued or running deployment', answer: A.CancelAnswer },
  { method: 'post', path: `${D}/:id/approve`, summary: 'Approve a deployment waiting for approval', body: DecisionBody.optional() },
  { method: 'post', path: `${D}/:id/reject`, summary: 'Reject a deployment waiting for approval', body: DecisionBody.optional() },
  { method: 'get', path: `${D}/:id/chain`, summary: 'The chain of dependent deployments a deployment started' },
  { method: 'delete', path: `${D}/cache`, summary: "Clear the dependency cache of the stack's project" },
  { method: 'post', path: `${D}/:id/chain/cancel`, summary: 'Cancel the rest of a chain' },
  { method: 'get', path: '/api/orgs/:org/deployments', summary: "The organization's deployments", query: ListQuery, answer: A.DeploymentList },
]);

const settings: Operation[] = tagged('Settings', [
  { method: 'get', path: `${D}/settings`, summary: 'Deployment settings', answer: A.StoredSettings },
  { method: 'post', path: `${D}/settings`, summary: 'Merge into the deployment settings', body: DeploymentSettingsInput, answer: A.StoredSettings },
  { method: 'put', path: `${D}/settings`, summary: 'Replace the deployment settings', body: DeploymentSettingsInput, answer: A.StoredSettings },
  { method: 'delete', path: `${D}/settings`, summary: 'Delete the deployment settings', answer: z.literal(true) },
  { method: 'post', path: `${D}/settings/encrypt`, summary: 'Encrypt a secret for the settings', body: SecretToEncrypt, answer: z.object({ ciphertext: z.string() }) },
]);

const queue: Operation[] = tagged('Queue', [
  { method: 'post', path: `${D}/pause`, summary: "Pause the stack's queue", answer: A.StackQueueMetadata },
  { method: 'post', path: `${D}/resume`, summary: "Resume the stack's queue", answer: A.StackQueueMetadata },
  { method: 'get', path: `${D}/metadata`, summary: "The stack's queue state", answer: A.StackQueueMetadata },
  { method: 'post', path: '/api/orgs/:org/deployments/pause', summary: "Pause every queue of the organization", answer: A.OrgQueueMetadata },
  { method: 'post', path: '/api/orgs/:org/deployments/resume', summary: "Resume the organization's queues", answer: A.OrgQueueMetadata },
  { method: 'get', path: '/api/orgs/:org/deployments/metadata', summary: "The organization's queue state", answer: A.OrgQueueMetadata },
]);

const schedules: Operation[] = tagged('Schedules', [
  { method: 'get', path: `${D}/schedules`, summary: "The stack's schedules", answer: A.ScheduleList.passthrough() },
  { method: 'post', path: `${D}/schedules`, summary: 'Create a deployment schedule', body: CreateScheduleRequest, answer: A.Schedule },
  { method: 'get', path: `${D}/schedules/:id`, summary: 'A schedule', answer: A.Schedule },
  { method: 'post', path: `${D}/schedules/:id`, summary: 'Update a deployment schedule', body: CreateScheduleRequest, answer: A.Schedule },
  { method: 'delete', path: `${D}/schedules/:id`, summary: 'Delete a schedule', ok: 204 },
  { method: 'post', path: `${D}/schedules/:id/pause`, summary: 'Pause a schedule', answer: A.Schedule },
  { method: 'post', path: `${D}/schedules/:id/resume`, summary: 'Resume a schedule', answer: A.Schedule },
  { method: 'get', path: `${D}/schedules/:id/history`, summary: "A schedule's firings" },
  { method: 'post', path: `${D}/drift/schedules`, summary: 'Create a drift detection schedule', body: DriftScheduleRequest, answer: A.Schedule },
  { method: 'post', path: `${D}/drift/schedules/:id`, summary: 'Update a drift detection schedule', body: DriftScheduleRequest, answer: A.Schedule },
  { method: 'post', path: `${D}/ttl/schedules`, summary: 'Create a TTL schedule', body: TtlScheduleRequest, answer: A.Schedule },
  { method: 'post', path: `${D}/ttl/schedules/:id`, summary: 'Update a TTL schedule', body: TtlScheduleRequest, answer: A.Schedule },
]);

const drift: Operation[] = tagged('Drift', [
  { method: 'get', path: `${S}/drift/runs`, summary: "The stack's drift runs", query: PageQuery },
  { method: 'get', path: `${S}/drift/status`, summary: "The stack's drift status", answer: A.DriftStatusAnswer },
]);

const hookPaths = (base: string, scope: string): Operation[] =>
  tagged('Webhooks', [
    { method: 'post', path: base, summary: `Create a ${scope} webhook`, body: CreateHook, ok: 201 },
    { method: 'get', path: base, summary: `The ${scope}'s webhooks` },
    { method: 'get', path: `${base}/:name`, summary: 'A webhook' },
    { method: 'patch', path: `${base}/:name`, summary: 'Change a webhook', body: PatchHook },
    { method: 'delete', path: `${base}/:name`, summary: 'Delete a webhook', ok: 204 },
    { method: 'post', path: `${base}/:name/ping`, summary: 'Send a ping event' },
    { method: 'get', path: `${base}/:name/deliveries`, summary: "A webhook's deliveries" },
    { method: 'post', path: `${base}/:name/deliveries/:event/redeliver`, summary: 'Deliver an event again' },
  ]);

const chains: Operation[] = tagged('Chains', [
  { method: 'get', path: `${S}/dependents`, summary: "The stack's dependents" },
  { method: 'post', path: `${S}/dependents`, summary: 'Add a dependent stack', body: CreateDependent, ok: 201 },
  { method: 'delete', path: `${S}/dependents/:dependentProject/:dependentStack`, summary: 'Remove a dependent stack', ok: 204 },
]);

const organizations: Operation[] = tagged('Organizations', [
  { method: 'get', path: '/api/orgs/:org/auditlogs', summary: "The organization's audit log (admins)", query: PageQuery.strict() },
  { method: 'get', path: '/api/orgs/:org/agent-pools', summary: "The organization's runner pools, their workers and deployments" },
  { method: 'get', path: '/api/orgs/:org/review-stacks', summary: "The organization's review stacks", query: PageQuery.strict(), answer: A.ReviewStackList },
]);

const access: Operation[] = tagged('Tokens', [
  { method: 'get', path: '/api/user', summary: "The token's identity and organizations", answer: A.User },
  { method: 'get', path: '/api/user/organizations/default', summary: 'The default organization' },
  { method: 'get', path: '/api/capabilities', summary: 'Capabilities (none)' },
  { method: 'post', path: '/api/tokens', summary: 'Create an API token (admins)', body: CreateTokenRequest, ok: 201 },
  { method: 'get', path: '/api/tokens', summary: 'The API tokens (admins)' },
  { method: 'delete', path: '/api/tokens/:id', summary: 'Revoke an API token (admins)', ok: 204 },
]);

// Their bodies are the git hosts' own events, checked by signature before anything is parsed.
const webhooks: Operation[] = tagged('Git triggers', [
  { method: 'post', path: '/api/webhooks/github', summary: "GitHub's webhook (X-Hub-Signature-256)", ok: 202, public: true },
  { method: 'post', path: '/api/webhooks/gitlab', summary: "GitLab's webhook (X-Gitlab-Token)", ok: 202, public: true },
  { method: 'post', path: '/api/webhooks/generic-vcs', summary: 'Any git host (X-Generic-VCS-Signature)', ok: 202, public: true },
  { method: 'post', path: '/workflow/generic-vcs', summary: 'Same as /api/webhooks/generic-vcs', ok: 202, public: true },
]);

const service: Operation[] = tagged('Service', [
  { method: 'get', path: '/healthz', summary: 'Liveness', public: true, answer: z.object({ ok: z.literal(true) }) },
  { method: 'get', path: '/api/openapi.json', summary: 'This description', public: true },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics (STACKWRIGHT_METRICS_TOKEN as a bearer token when set)', public: true, contentType: 'text/plain' },
  { method: 'get', path: '/.well-known/openid-configuration', summary: "The OIDC issuer's discovery document", public: true },
  { method: 'get', path: '/oidc/.well-known/openid-configuration', summary: "The OIDC issuer's discovery document", public: true },
  { method: 'get', path: '/oidc/.well-known/jwks', summary: "The keys that sign deployments' OIDC tokens", public: true },
  { method: 'get', path: '/api/docs', summary: 'Interactive documentation (Swagger UI)', public: true, contentType: 'text/html' },
  { method: 'get', path: '/api/docs/:file', summary: "The documentation's assets", public: true, contentType: 'application/octet-stream' },
  { method: 'post', path: '/codec/encode', summary: "Temporal's remote codec: encode payloads (admins)" },
  { method: 'post', path: '/codec/decode', summary: "Temporal's remote codec: decode payloads (admins)" },
  { method: 'post', path: '/codec/:pathToken/encode', summary: 'The codec for the Temporal UI, authorized by a secret path' },
  { method: 'post', path: '/codec/:pathToken/decode', summary: 'The codec for the Temporal UI, authorized by a secret path' },
]);

/** Every route of the API. */
export const OPERATIONS: Operation[] = [
  ...stack,
  ...deployments,
  ...settings,
  ...queue,
  ...schedules,
  ...drift,
  ...hookPaths(`${S}/hooks`, 'stack'),
  ...hookPaths('/api/orgs/:org/hooks', 'organization'),
  ...chains,
  ...organizations,
  ...access,
  ...webhooks,
  ...service,
];
