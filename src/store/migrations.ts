import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import { repositoryKeysOf } from '../vcs/repository';
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
      // Settings stored before this migration.
      const typed = db as Kysely<Database>;
      const rows = await typed.selectFrom('stack_settings').select(['org', 'project', 'stack', 'settings']).execute();
      for (const r of rows) {
        const keys = repositoryKeysOf(JSON.parse(r.settings));
        if (keys.length) await typed.insertInto('stack_repositories').values(keys.map((k) => ({ ...k, org: r.org, project: r.project, stack: r.stack }))).execute();
      }
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
};

export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrate(db: Kysely<unknown>): Promise<void> {
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) throw error;
}
