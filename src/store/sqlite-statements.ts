import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * A better-sqlite3 database that prepares each distinct SQL text once. Kysely prepares every query
 * afresh, which costs more than running the small indexed queries the API makes; Kysely's one
 * connection runs one query at a time (a streamed one holds it until done), so a statement is never
 * used twice at once. SQLite re-prepares a cached statement itself after a schema change.
 */
export function cachingStatements(db: SqliteDatabase, max = 500): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare(sql) {
      let stmt = cache.get(sql);
      if (stmt) {
        // Most recently used last, so the first entry is the one to drop.
        cache.delete(sql);
      } else {
        stmt = db.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}
