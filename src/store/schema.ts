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
  /** Which Pulumi passphrase each stack uses: 'shared' (stacks older than per-stack keys) or 'derived'. */
  stack_pulumi_keys: {
    org: string;
    project: string;
    stack: string;
    scheme: string;
  };
}
