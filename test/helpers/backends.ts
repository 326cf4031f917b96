import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The database URLs a store test runs against: SQLite (the default) always, PostgreSQL when
 * global-setup started one (it does when the server binaries are installed).
 */
export function storeBackends(): [string, () => string][] {
  const backends: [string, () => string][] = [['sqlite', () => join(mkdtempSync(join(tmpdir(), 'stackwright-db-')), 'db.sqlite')]];
  if (process.env.STACKWRIGHT_TEST_POSTGRES_URL) backends.push(['postgres', () => process.env.STACKWRIGHT_TEST_POSTGRES_URL!]);
  return backends;
}
