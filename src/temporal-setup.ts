import type { Client } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { registerSearchAttributes } from './temporal';

// gRPC status codes.
const status = { NOT_FOUND: 5, ALREADY_EXISTS: 6 };

/**
 * Prepares a self-hosted Temporal for Stackwright (`main.ts setup-temporal`): the namespace, then
 * Stackwright's search attributes. Both are kept when they exist, so it can run on every deploy.
 */
export async function setupTemporal(client: Client, namespace: string, retentionDays: number): Promise<void> {
  try {
    await client.connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(retentionDays * 86_400_000),
      description: 'Stackwright deployments',
    });
  } catch (err) {
    if ((err as { code?: number }).code !== status.ALREADY_EXISTS) throw err;
  }
  // A new namespace reaches every frontend's cache within seconds; until then it is "not found".
  for (let i = 0; ; i++) {
    try {
      await client.connection.workflowService.describeNamespace({ namespace });
      break;
    } catch (err) {
      if ((err as { code?: number }).code !== status.NOT_FOUND || i > 60) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  await registerSearchAttributes(client, namespace);
}
