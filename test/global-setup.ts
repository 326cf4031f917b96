import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveTools } from '../src/tools';
import { freePort, startDevServer } from '../src/dev-server';
import { connectWithRetry } from '../src/temporal-wait';
import { startPostgres } from './helpers/postgres';

/** One real Temporal dev server for the whole run; test files isolate themselves by task queue. */
export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stackwright-temporal-'));
  const dev = await startDevServer({
    temporalCli: resolveTools().temporalCli,
    dataDir: dir,
    dbFilename: join(dir, 'temporal.db'),
    port: await freePort(),
    namespace: 'default',
    ui: false,
  });
  const connection = await connectWithRetry(dev.address);
  await connection.close();
  process.env.STACKWRIGHT_TEST_TEMPORAL_ADDRESS = dev.address;
  (globalThis as { __servers?: unknown[] }).__servers = [dev.child];

  // The store also speaks PostgreSQL: test it there when the server binaries are installed.
  const pg = process.env.STACKWRIGHT_TEST_POSTGRES_URL ? undefined : await startPostgres(await freePort());
  if (pg) {
    process.env.STACKWRIGHT_TEST_POSTGRES_URL = pg.url;
    (globalThis as { __servers?: unknown[] }).__servers!.push(pg.child);
  }
}
