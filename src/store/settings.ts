import type { Kysely } from 'kysely';
import type { Database } from './schema';
import { stackColumns, type Clock } from './sql';
import { RepositoryIndex } from './repositories';
import type { StackRef } from '../shared/names';
import type { DeploymentSettings } from '../shared/settings';

export interface StoredSettings {
  settings: DeploymentSettings;
  version: number;
  created: string;
  modified: string;
}

/** Each stack's deployment settings (secrets sealed), kept with the repository index they imply. */
export class SettingsStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: Clock,
  ) {}

  async getSettings(ref: StackRef): Promise<StoredSettings | undefined> {
    const row = await this.db.selectFrom('stack_settings').selectAll().where((eb) => eb.and(stackColumns(ref))).executeTakeFirst();
    return row && { settings: JSON.parse(row.settings), version: row.version, created: row.created, modified: row.modified };
  }

  async saveSettings(ref: StackRef, settings: DeploymentSettings): Promise<StoredSettings> {
    const now = this.now().toISOString();
    return this.db.transaction().execute(async (tx) => {
      const cur = await tx.selectFrom('stack_settings').select(['version', 'created']).where((eb) => eb.and(stackColumns(ref))).executeTakeFirst();
      const json = JSON.stringify(settings);
      await RepositoryIndex.replace(tx, ref, settings);
      if (cur) {
        await tx
          .updateTable('stack_settings')
          .set({ settings: json, version: cur.version + 1, modified: now })
          .where((eb) => eb.and(stackColumns(ref)))
          .execute();
        return { settings, version: cur.version + 1, created: cur.created, modified: now };
      }
      await tx.insertInto('stack_settings').values({ ...stackColumns(ref), settings: json, version: 1, created: now, modified: now }).execute();
      return { settings, version: 1, created: now, modified: now };
    });
  }

  async deleteSettings(ref: StackRef): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      await RepositoryIndex.replace(tx, ref, undefined);
      const r = await tx.deleteFrom('stack_settings').where((eb) => eb.and(stackColumns(ref))).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }
}
