import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema';
import { stackColumns } from './sql';
import type { StackRef } from '../shared/names';
import type { DeploymentSettings } from '../shared/settings';
import { repositoryKeysOf, type RepositoryKey } from '../vcs/repository';
import type { StoredSettings } from './settings';

/** The repository index: which stacks a repository's webhooks deploy. */
export class RepositoryIndex {
  constructor(private readonly db: Kysely<Database>) {}

  /** Re-indexes a stack inside the transaction that changes its settings (none: the stack is gone). */
  static async replace(tx: Transaction<Database>, ref: StackRef, settings: DeploymentSettings | undefined): Promise<void> {
    await tx.deleteFrom('stack_repositories').where((eb) => eb.and(stackColumns(ref))).execute();
    const keys = settings ? repositoryKeysOf(settings) : [];
    if (keys.length) await tx.insertInto('stack_repositories').values(keys.map((k) => ({ ...k, ...stackColumns(ref) }))).execute();
  }

  /** Stacks whose settings name this repository (key normalized by src/vcs/repository.ts), with their settings. */
  async stacksForRepository(key: RepositoryKey): Promise<(StackRef & StoredSettings)[]> {
    const rows = await this.db
      .selectFrom('stack_repositories as r')
      .innerJoin('stack_settings as s', (j) => j.onRef('s.org', '=', 'r.org').onRef('s.project', '=', 'r.project').onRef('s.stack', '=', 'r.stack'))
      .select(['s.org', 's.project', 's.stack', 's.settings', 's.version', 's.created', 's.modified'])
      .where('r.provider', '=', key.provider)
      .where('r.repository', '=', key.repository)
      .orderBy('s.org')
      .orderBy('s.project')
      .orderBy('s.stack')
      .execute();
    return rows.map((r) => ({ org: r.org, project: r.project, stack: r.stack, settings: JSON.parse(r.settings), version: r.version, created: r.created, modified: r.modified }));
  }
}
