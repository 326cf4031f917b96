import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { createApp, type ApiDeps } from '../../src/api/app';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import { EncryptionCodec, codecKeys } from '../../src/codec/payload-codec';
import { SecretBox } from '../../src/secret-box';

export interface ApiApp {
  dir: string;
  store: Store;
  app: ReturnType<typeof createApp>;
  close(): Promise<void>;
}

/**
 * The HTTP API in-process (Hono's app.request) on a real SQLite store in a new directory, with a
 * Temporal client that accepts every call. No queue workflow runs: cancels are recorded directly,
 * resumes wake nothing. `deps` adds or replaces dependencies; it is given the store.
 */
export async function startApiApp(o: { name: string; token: string; deps?: (store: Store) => Partial<ApiDeps> }): Promise<ApiApp> {
  const dir = mkdtempSync(join(tmpdir(), `stackwright-${o.name}-`));
  const store = new Store(await openDatabase(join(dir, 'db.sqlite')));
  const temporal = {
    workflow: {
      signalWithStart: async () => ({}),
      getHandle: (workflowId: string) => ({
        signal: async () => {
          throw new WorkflowNotFoundError('not found', workflowId, undefined);
        },
      }),
      start: async () => ({ signal: async () => undefined }),
    },
  } as unknown as Client;
  const app = createApp({
    store,
    box: new SecretBox(randomBytes(32)),
    temporal,
    token: o.token,
    taskQueue: `${o.name}-test`,
    namespace: 'default',
    publicUrl: 'http://stackwright.test',
    log: pino({ level: 'silent' }),
    stateBackendUrl: (ref) => `file:///nonexistent/stackwright-state/${ref.org}`,
    pulumiPassphrase: async () => 'not-used',
    codec: { codec: new EncryptionCodec(codecKeys(randomBytes(32))), pathToken: 'codec-path-token' },
    ...o.deps?.(store),
  });
  return {
    dir,
    store,
    app,
    async close() {
      await store.db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
