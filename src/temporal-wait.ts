import { Connection } from '@temporalio/client';
import type { TemporalAccess } from './temporal-connection';

/** Connects to Temporal, retrying while a just-started server comes up. */
export async function connectWithRetry(address: string, timeoutMs = 60_000, access: TemporalAccess = {}): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: '5 seconds', ...access });
      await connection.workflowService.getSystemInfo({});
      return connection;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`cannot reach Temporal at ${address}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
