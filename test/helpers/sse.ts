/** One Server-Sent Events block: an event, or a comment (keep-alive) when `comment` is set. */
export interface SseEvent {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
}

/** Reads a text/event-stream response block by block. */
export class EventReader {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();

  constructor(
    res: Response,
    private readonly abort?: AbortController,
  ) {
    if (!res.body) throw new Error('response has no body');
    this.reader = res.body.getReader();
  }

  /** The next block, or undefined once the server closed the stream. */
  async next(): Promise<SseEvent | undefined> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return parseBlock(block);
      }
      const { done, value } = await this.reader.read();
      if (done) return undefined;
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  /** Reads events (skipping comments) until `stop` says so or the stream ends; returns them all. */
  async readUntil(stop: (e: SseEvent, all: SseEvent[]) => boolean): Promise<SseEvent[]> {
    const all: SseEvent[] = [];
    for (;;) {
      const e = await this.next();
      if (!e) return all;
      if (e.comment !== undefined) continue;
      all.push(e);
      if (stop(e, all)) return all;
    }
  }

  /** Goes away as a client would: the connection is dropped. */
  async close(): Promise<void> {
    this.abort?.abort();
    await this.reader.cancel().catch(() => undefined);
  }
}

function parseBlock(block: string): SseEvent {
  const e: SseEvent = {};
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) e.comment = line.slice(1).trim();
    const m = /^(event|id|data): ?(.*)$/.exec(line);
    if (m?.[1] === 'data') data.push(m[2]);
    else if (m) e[m[1] as 'event' | 'id'] = m[2];
  }
  if (data.length) e.data = data.join('\n');
  return e;
}

/** Opens a stream over HTTP; `lastEventId` resumes as a reconnecting EventSource would. */
export async function followLogs(url: string, token: string, lastEventId?: string): Promise<EventReader> {
  const abort = new AbortController();
  const headers: Record<string, string> = { Authorization: `token ${token}`, Accept: 'text/event-stream' };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  const res = await fetch(url, { headers, signal: abort.signal });
  if (res.status !== 200 || !res.headers.get('Content-Type')?.startsWith('text/event-stream')) {
    throw new Error(`expected an event stream, got ${res.status}: ${await res.text()}`);
  }
  return new EventReader(res, abort);
}

/** The JSON-mode line objects an event stream carried, in order. */
export const linesOf = (events: SseEvent[]): any[] => events.filter((e) => e.event === 'header' || e.event === 'line').map((e) => JSON.parse(e.data!));
