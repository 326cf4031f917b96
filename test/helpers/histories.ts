import { createRequire } from 'node:module';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

// historyToJSON/historyFromJSON from @temporalio/common throw "type must be a Type" in this install (and
// so does Worker.runReplayHistories when given JSON): npm nested two copies of protobufjs@8, one under
// @temporalio/common and one under @temporalio/proto, because @pulumi/pulumi's gRPC keeps protobufjs@7
// at the top, and protojson checks `instanceof Type`. Same conversions, with @temporalio/proto's copy.
const protojson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): History | null;
};
const historyType = (patchProtobufRoot(proto as unknown as Record<string, unknown>) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);
export const historyToJson = (h: History) => protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(h));
export function historyFromJson(json: unknown): History {
  const h = protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
  if (!h) throw new TypeError('invalid history');
  return h;
}

/** Writes a new history in Temporal's JSON history format, without machine-specific identities. */
export async function writeHistory(client: Client, dir: string, name: string, workflowId: string, runId?: string): Promise<void> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const json = historyToJson(history);
  const scrub = (v: unknown): void => {
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'identity' && typeof x === 'string') (v as Record<string, unknown>)[k] = 'stackwright-test';
      else scrub(x);
    }
  };
  scrub(json);
  mkdirSync(dir, { recursive: true });
  // Histories recorded by earlier code stay: they are what running executions replay.
  if (existsSync(join(dir, `${name}.json`))) return;
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
}
