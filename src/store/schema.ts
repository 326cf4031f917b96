import type { Generated } from 'kysely';

// Timestamps are ISO-8601 strings so SQLite and PostgreSQL store them alike.
export interface Database {
  stack_settings: {
    org: string;
    project: string;
    stack: string;
    settings: string; // JSON, secrets sealed
    version: number;
    created: string;
    modified: string;
  };
  deployments: {
    id: string;
    org: string;
    project: string;
    stack: string;
    version: number;
    operation: string;
    status: string;
    settings: string; // effective settings, JSON, secrets sealed
    inherit_settings: number;
    initiator: string;
    requested_by: string;
    message: string | null;
    created: string;
    modified: string;
    started: string | null;
    resource_changes: string | null; // JSON change summary of the Pulumi operation
    drift_detected: number | null; // drift operations only: 1 when the refresh found changes
    drift_remediation_id: string | null; // the remediate-drift deployment a detection queued
    approval_request?: string | null; // JSON ApprovalRequest: what a deployment waiting for approval showed
    approvals?: string | null; // JSON Decision[]: every approve and reject, in order
    git_trigger?: string | null; // JSON DeploymentTrigger: the git event that started it
    pull_request_key?: string | null; // <provider>:<normalized repository>#<number> of the pull request its trigger names
  };
  deployment_steps: {
    deployment_id: string;
    idx: number;
    name: string;
    status: string;
    started: string | null;
    last_updated: string | null;
  };
  deployment_pauses: {
    org: string;
    project: string; // '' for the whole organization
    stack: string;
    created: string;
  };
  deployment_logs: {
    deployment_id: string;
    step: number;
    seq: number;
    ts: string;
    line: string;
  };
  /** One row per (repository, stack) whose settings name that repository in a gitHub or vcs block. */
  stack_repositories: {
    provider: string;
    repository: string; // normalized (src/vcs/repository.ts)
    org: string;
    project: string;
    stack: string;
  };
  /** API tokens besides the bootstrap one; only a hash of each value is kept. */
  api_tokens: {
    id: string;
    name: string; // unique
    role: string;
    org: string | null; // null: every organization
    hash: string; // SHA-256 of the value, hex
    created: string;
    created_by: string; // name of the token that created it
    expires: string | null;
  };
  /** Who changed what, newest by id. */
  audit_log: {
    id: Generated<number>;
    created: string;
    org: string | null; // null: a change to every organization (a token for all of them)
    event: string;
    target: string;
    description: string;
    actor: string; // the token's name, or the webhook that asked
    token_id: string | null;
  };
  /** Idempotency-Key headers of deployment requests, per stack, with the deployment each created. */
  idempotency_keys: {
    org: string;
    project: string;
    stack: string;
    key: string;
    request_hash: string; // sha256 of the request, to tell a retry from a different request
    deployment_id: string;
    created: string;
  };
  /** Which Pulumi passphrase each stack uses: 'shared' (stacks older than per-stack keys) or 'derived'. */
  stack_pulumi_keys: {
    org: string;
    project: string;
    stack: string;
    scheme: string;
  };
  /** Schedules of deployments (raw, drift, TTL); `request` is a CreateDeploymentRequest, secrets sealed. */
  schedules: {
    id: string;
    org: string;
    project: string;
    stack: string;
    kind: string; // raw | drift | ttl
    schedule_cron: string | null;
    schedule_once: string | null; // ISO 8601, UTC
    request: string; // JSON
    paused: number;
    version: number;
    created: string;
    modified: string;
  };
  /** Each firing of a schedule: the deployment it queued, or its result without one (skipped, failed). */
  schedule_history: {
    id: string;
    schedule_id: string;
    executed: string;
    version: number;
    result: string;
    deployment_id: string | null;
    message: string | null;
  };
  /** Review stacks: one per template and pull request, kept after removal with state 'removed'. */
  review_stacks: {
    org: string;
    project: string;
    stack: string;
    template: string;
    provider: string;
    repository: string; // as the git host spells it
    pull_request: number;
    head_branch: string | null;
    head_commit: string | null;
    state: string;
    message: string | null;
    last_deployment_id: string | null;
    workflow_id: string;
    created: string;
    modified: string;
  };
  /** Outgoing webhooks; an organization hook has '' as project and stack. */
  hooks: {
    org: string;
    project: string;
    stack: string;
    name: string;
    display_name: string;
    payload_url: string;
    secret: string | null; // sealed
    active: number;
    format: string;
    filters: string; // JSON array
    groups: string; // JSON array
    created: string;
  };
  /** One row per delivery (the last attempt's outcome); `seq` orders them. */
  hook_deliveries: {
    id: string;
    org: string;
    project: string;
    stack: string;
    hook: string;
    message_id: string;
    event: string;
    kind: string;
    payload: string;
    timestamp: number;
    duration: number;
    attempt: number;
    request_url: string;
    request_headers: string;
    response_code: number;
    response_headers: string;
    response_body: string;
    seq: number;
  };
  /** Stacks deployed after an update of another stack of the same organization. */
  stack_dependents: {
    org: string;
    project: string;
    stack: string;
    dependent_project: string;
    dependent_stack: string;
    condition: string;
    created: string;
  };
  /** Keys that sign deployments' OIDC tokens; the private half sealed with the secrets key. */
  oidc_keys: {
    kid: string;
    alg: string;
    public_jwk: string; // JSON
    private_jwk: string; // sealed JSON
    created: string;
    publish_until: string; // the JWKS lists the key until the last token it signed has expired
  };
  cache_lookups: {
    result: 'hit' | 'miss';
    count: number;
  };
  project_caches: {
    org: string;
    project: string;
    generation: number;
    cleared: string;
  };
  /** Runner pools, recorded by their workers when they start. */
  runner_pools: {
    name: string;
    created: string;
    last_started: string;
  };
  /** One row ('key'): a value sealed with the secrets key, checked by every role at start. */
  secrets_key_check: {
    id: string;
    sealed: string;
    created: string;
  };
}
