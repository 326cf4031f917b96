import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { Logger } from 'pino';
import type { Store } from '../store/store';
import { readLogStream } from './logs';

export interface LogStreamTiming {
  /** How often the store is asked for new lines while nothing arrives. */
  pollMs: number;
  /** A comment is sent after this long without events, so proxies keep the connection open. */
  keepAliveMs: number;
}

export const LOG_STREAM_TIMING: LogStreamTiming = { pollMs: 250, keepAliveMs: 15_000 };

const BATCH = 500;

/**
 * Follows a deployment's log as Server-Sent Events: `header` and `line` events carry the JSON
 * mode's line objects and, as their id, the continuation token after them, so a reconnect with
 * Last-Event-ID resumes exactly there. An `end` event with the deployment's status follows the
 * last line. Everything is read from the store, so any API process can serve any stream and a
 * worker restart only pauses it.
 */
export function streamLogs(c: Context, o: FollowOptions & { log: Logger; timing?: LogStreamTiming }) {
  return streamSSE(c, async (stream) => {
    try {
      await follow(c, stream, o, o.timing ?? LOG_STREAM_TIMING);
    } catch (err) {
      // The status line was sent long ago: say so in the stream, keep the details in our log.
      o.log.error({ err, deploymentId: o.deploymentId }, 'log stream failed');
      await stream.writeSSE({ event: 'error', data: JSON.stringify({ message: 'reading the log failed; reconnect to resume' }) });
    }
  });
}

interface FollowOptions {
  store: Store;
  deploymentId: string;
  /** Continuation token to start after; the beginning when absent. */
  from?: string;
}

async function follow(c: Context, stream: SSEStreamingApi, o: FollowOptions, timing: LogStreamTiming) {
  const gone = new Promise<void>((resolve) => {
    stream.onAbort(resolve);
    c.req.raw.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const closed = () => stream.aborted || stream.closed || c.req.raw.signal.aborted;
  let token = o.from;
  let lastSent = Date.now();
  await stream.write(': following\n\n');
  while (!closed()) {
    const d = await o.store.getDeploymentById(o.deploymentId);
    if (!d) return;
    const { entries, nextToken } = await readLogStream(o.store, d, token, BATCH);
    for (const e of entries) {
      await stream.writeSSE({ event: 'header' in e.line ? 'header' : 'line', id: e.token, data: JSON.stringify(e.line) });
    }
    if (entries.length > 0) lastSent = Date.now();
    if (nextToken === undefined) {
      await stream.writeSSE({ event: 'end', data: JSON.stringify({ status: d.status, message: d.message ?? undefined }) });
      return;
    }
    token = nextToken;
    if (entries.length === BATCH) continue;
    if (Date.now() - lastSent >= timing.keepAliveMs) {
      await stream.write(': keep-alive\n\n');
      lastSent = Date.now();
    }
    await Promise.race([stream.sleep(timing.pollMs), gone]);
  }
}
