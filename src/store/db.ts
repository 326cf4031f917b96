import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type { Database } from './schema';
import { migrate } from './migrations';
import { cachingStatements } from './sqlite-statements';

/**
 * Opens Stackwright's database: a postgres:// URL for multi-machine installs, otherwise a SQLite
 * file (WAL mode, so the API and the worker can share it from separate processes).
 */
export async function openDatabase(url: string): Promise<Kysely<Database>> {
  let db: Kysely<Database>;
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { Pool } = await import('pg');
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: url, max: 10 }) }) });
  } else {
    const { default: Sqlite } = await import('better-sqlite3');
    const file = new Sqlite(url);
    file.pragma('journal_mode = WAL');
    file.pragma('busy_timeout = 5000');
    file.pragma('foreign_keys = ON');
    // Reads (the API's, under load) from memory: a 64 MiB page cache, and the file mapped rather than copied.
    file.pragma('cache_size = -65536');
    file.pragma('mmap_size = 268435456');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(file) }) });
  }
  await migrateWithRetry(db as Kysely<unknown>);
  return db;
}

/**
 * Several processes (worker and API) may open a new database at once. Kysely locks migrations on
 * PostgreSQL but not on SQLite, where the loser's transaction fails and rolls back; trying again
 * then finds the migration done.
 */
async function migrateWithRetry(db: Kysely<unknown>, attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await migrate(db);
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100 * i));
    }
  }
}
