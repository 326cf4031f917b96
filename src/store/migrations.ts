import { type Kysely, type Migration, type MigrationProvider, Migrator, PostgresAdapter, sql } from 'kysely';
import { repositoryKeysAt0004 } from './repository-keys-0004';
import type { Database } from './schema';

// Append new migrations; never edit a released one.
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('stack_settings')
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('settings', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addColumn('modified', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('stack_settings_pk', ['org', 'project', 'stack'])
        .execute();
      await db.schema
        .createTable('deployments')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('operation', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('settings', 'text', (c) => c.notNull())
        .addColumn('inherit_settings', 'integer', (c) => c.notNull())
        .addColumn('initiator', 'varchar(32)', (c) => c.notNull())
        .addColumn('requested_by', 'varchar(128)', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addColumn('modified', 'varchar(40)', (c) => c.notNull())
        .addColumn('started', 'varchar(40)')
        .addUniqueConstraint('deployments_stack_version', ['org', 'project', 'stack', 'version'])
        .execute();
      await db.schema
        .createTable('deployment_steps')
        .addColumn('deployment_id', 'varchar(36)', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('name', 'varchar(128)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('started', 'varchar(40)')
        .addColumn('last_updated', 'varchar(40)')
        .addPrimaryKeyConstraint('deployment_steps_pk', ['deployment_id', 'idx'])
        .execute();
      await db.schema
        .createTable('deployment_logs')
        .addColumn('deployment_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('step', 'integer', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('ts', 'varchar(40)', (c) => c.notNull())
        .addColumn('line', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('deployment_logs_pk', ['deployment_id', 'step', 'seq'])
        .execute();
    },
  },
  '0002_queue': {
    async up(db: Kysely<unknown>) {
      // One row per paused scope: an organization (project and stack empty) or one stack.
      await db.schema
        .createTable('deployment_pauses')
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('deployment_pauses_pk', ['org', 'project', 'stack'])
        .execute();
      await db.schema.createIndex('deployments_org_status').on('deployments').columns(['org', 'status']).execute();
    },
  },
  // What each deployment's Pulumi operation changed; drift runs are read from these.
  '0003_drift': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('deployments').addColumn('resource_changes', 'text').execute();
      await db.schema.alterTable('deployments').addColumn('drift_detected', 'integer').execute();
      await db.schema.alterTable('deployments').addColumn('drift_remediation_id', 'varchar(36)').execute();
    },
  },
  // Which stacks a repository's webhooks deploy, so an event finds them without reading every stack's settings.
  '0004_vcs': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('stack_repositories')
        .addColumn('provider', 'varchar(16)', (c) => c.notNull())
        .addColumn('repository', 'varchar(512)', (c) => c.notNull())
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addPrimaryKeyConstraint('stack_repositories_pk', ['provider', 'repository', 'org', 'project', 'stack'])
        .execute();
      await db.schema.createIndex('stack_repositories_stack').on('stack_repositories').columns(['org', 'project', 'stack']).execute();
      // Settings stored before this migration. Typed here, not by schema.ts: that describes today's tables.
      const typed = db as Kysely<{
        stack_settings: { org: string; project: string; stack: string; settings: string };
        stack_repositories: { provider: string; repository: string; org: string; project: string; stack: string };
      }>;
      const rows = await typed.selectFrom('stack_settings').select(['org', 'project', 'stack', 'settings']).execute();
      for (const r of rows) {
        const keys = repositoryKeysAt0004(JSON.parse(r.settings));
        if (keys.length) await typed.insertInto('stack_repositories').values(keys.map((k) => ({ ...k, org: r.org, project: r.project, stack: r.stack }))).execute();
      }
    },
  },
  // API tokens with roles and organization scopes, and the audit log of changes.
  '0005_tokens': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('role', 'varchar(16)', (c) => c.notNull())
        .addColumn('org', 'varchar(64)')
        .addColumn('hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addColumn('created_by', 'varchar(64)', (c) => c.notNull())
        .addColumn('expires', 'varchar(40)')
        .execute();
      // Entries are ordered by id: timestamps of changes made in the same millisecond tie.
      const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
      await db.schema
        .createTable('audit_log')
        .addColumn('id', postgres ? 'serial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addColumn('org', 'varchar(64)')
        .addColumn('event', 'varchar(32)', (c) => c.notNull())
        .addColumn('target', 'varchar(512)', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('actor', 'varchar(128)', (c) => c.notNull())
        .addColumn('token_id', 'varchar(16)')
        .execute();
      await db.schema.createIndex('audit_log_org').on('audit_log').columns(['org', 'id']).execute();
    },
  },
  // Idempotent deployment requests, and finding unfinished deployments across organizations (the reconciler).
  '0006_reliability': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('key', 'varchar(255)', (c) => c.notNull())
        .addColumn('request_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('deployment_id', 'varchar(36)', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['org', 'project', 'stack', 'key'])
        .execute();
      await db.schema.createIndex('idempotency_keys_deployment').on('idempotency_keys').column('deployment_id').execute();
      await db.schema.createIndex('deployments_status').on('deployments').column('status').execute();
    },
  },
  // Per-stack Pulumi passphrases: every stack that exists now keeps the shared one.
  '0007_security': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('stack_pulumi_keys')
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('scheme', 'varchar(16)', (c) => c.notNull())
        .addPrimaryKeyConstraint('stack_pulumi_keys_pk', ['org', 'project', 'stack'])
        .execute();
      const d = db as Kysely<Database>;
      await d
        .insertInto('stack_pulumi_keys')
        .columns(['org', 'project', 'stack', 'scheme'])
        .expression(d.selectFrom('deployments').select(['org', 'project', 'stack', sql<string>`'shared'`.as('scheme')]).distinct())
        .execute();
    },
  },
  // Schedules (raw, drift, TTL) and their firings.
  '0008_schedules': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('schedules')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('kind', 'varchar(8)', (c) => c.notNull())
        .addColumn('schedule_cron', 'varchar(256)')
        .addColumn('schedule_once', 'varchar(40)')
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('paused', 'integer', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addColumn('modified', 'varchar(40)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('schedules_stack').on('schedules').columns(['org', 'project', 'stack']).execute();
      await db.schema
        .createTable('schedule_history')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('schedule_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('executed', 'varchar(40)', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('result', 'varchar(16)', (c) => c.notNull())
        .addColumn('deployment_id', 'varchar(36)')
        .addColumn('message', 'text')
        .execute();
      await db.schema.createIndex('schedule_history_schedule').on('schedule_history').columns(['schedule_id', 'executed']).execute();
    },
  },
  // Review stacks: the pull request, template and state of each, for the listing and the config copy.
  '0009_review_stacks': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('review_stacks')
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('template', 'varchar(128)', (c) => c.notNull())
        .addColumn('provider', 'varchar(16)', (c) => c.notNull())
        .addColumn('repository', 'varchar(512)', (c) => c.notNull())
        .addColumn('pull_request', 'integer', (c) => c.notNull())
        .addColumn('head_branch', 'varchar(512)')
        .addColumn('head_commit', 'varchar(64)')
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('last_deployment_id', 'varchar(36)')
        .addColumn('workflow_id', 'varchar(1024)', (c) => c.notNull())
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addColumn('modified', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('review_stacks_pk', ['org', 'project', 'stack'])
        .execute();
    },
  },
  // Approvals: what a deployment waiting for approval showed, and every decision on it.
  '0010_approvals': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('deployments').addColumn('approval_request', 'text').execute();
      await db.schema.alterTable('deployments').addColumn('approvals', 'text').execute();
    },
  },
  // Outgoing webhooks (stack and organization hooks), their deliveries, and dependent stacks.
  '0011_hooks': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('hooks')
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull()) // '' for an organization hook
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('name', 'varchar(64)', (c) => c.notNull())
        .addColumn('display_name', 'varchar(255)', (c) => c.notNull())
        .addColumn('payload_url', 'text', (c) => c.notNull())
        .addColumn('secret', 'text') // sealed
        .addColumn('active', 'integer', (c) => c.notNull())
        .addColumn('format', 'varchar(32)', (c) => c.notNull())
        .addColumn('filters', 'text', (c) => c.notNull())
        .addColumn('groups', 'text', (c) => c.notNull())
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('hooks_pk', ['org', 'project', 'stack', 'name'])
        .execute();
      await db.schema
        .createTable('hook_deliveries')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('hook', 'varchar(64)', (c) => c.notNull())
        .addColumn('message_id', 'varchar(64)', (c) => c.notNull()) // the same for redeliveries (webhook-id)
        .addColumn('event', 'varchar(64)', (c) => c.notNull())
        .addColumn('kind', 'varchar(64)', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('timestamp', 'integer', (c) => c.notNull())
        .addColumn('duration', 'integer', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('request_url', 'text', (c) => c.notNull())
        .addColumn('request_headers', 'text', (c) => c.notNull())
        .addColumn('response_code', 'integer', (c) => c.notNull())
        .addColumn('response_headers', 'text', (c) => c.notNull())
        .addColumn('response_body', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('hook_deliveries_hook').on('hook_deliveries').columns(['org', 'project', 'stack', 'hook', 'seq']).execute();
      await db.schema
        .createTable('stack_dependents')
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('dependent_project', 'varchar(128)', (c) => c.notNull())
        .addColumn('dependent_stack', 'varchar(128)', (c) => c.notNull())
        .addColumn('condition', 'varchar(16)', (c) => c.notNull())
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('stack_dependents_pk', ['org', 'project', 'stack', 'dependent_project', 'dependent_stack'])
        .execute();
    },
  },
  // The git event behind a deployment, and the pull request it names (found by a pull request comment).
  '0012_deployment_triggers': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('deployments').addColumn('git_trigger', 'text').execute();
      await db.schema.alterTable('deployments').addColumn('pull_request_key', 'varchar(400)').execute();
      await db.schema.createIndex('deployments_pull_request').on('deployments').columns(['pull_request_key', 'status']).execute();
    },
  },
  // Dependency caches: clearing a project's cache bumps its generation (workers drop older entries).
  '0013_caches': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('project_caches')
        .addColumn('org', 'varchar(64)', (c) => c.notNull())
        .addColumn('project', 'varchar(128)', (c) => c.notNull())
        .addColumn('generation', 'integer', (c) => c.notNull())
        .addColumn('cleared', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('project_caches_pk', ['org', 'project'])
        .execute();
    },
  },
  '0014_runner_pools': {
    async up(db: Kysely<unknown>) {
      // Runner pools named by the workers that serve them (STACKWRIGHT_POOL).
      await db.schema
        .createTable('runner_pools')
        .addColumn('name', 'varchar(100)', (c) => c.primaryKey())
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addColumn('last_started', 'varchar(40)', (c) => c.notNull())
        .execute();
      // A value sealed with the installation's secrets key: a role started with another key refuses to start.
      await db.schema
        .createTable('secrets_key_check')
        .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .execute();
    },
  },
  // Dependency cache lookups by result, counted for /metrics wherever the worker runs.
  '0015_cache_lookups': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('cache_lookups')
        .addColumn('result', 'varchar(8)', (c) => c.primaryKey())
        .addColumn('count', 'integer', (c) => c.notNull())
        .execute();
    },
  },
  '0016_oidc': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('oidc_keys')
        .addColumn('kid', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('alg', 'varchar(16)', (c) => c.notNull())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('private_jwk', 'text', (c) => c.notNull())
        .addColumn('created', 'varchar(40)', (c) => c.notNull())
        .addColumn('publish_until', 'varchar(40)', (c) => c.notNull())
        .execute();
    },
  },
  // The API's lists: a stack's deployments in a status by version, an organization's newest first.
  '0019_api_indexes': {
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('deployments_stack_status').on('deployments').columns(['org', 'project', 'stack', 'status', 'version']).execute();
      await db.schema.createIndex('deployments_org_created').on('deployments').columns(['org', 'created']).execute();
    },
  },
};

export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrate(db: Kysely<unknown>): Promise<void> {
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) throw error;
}
