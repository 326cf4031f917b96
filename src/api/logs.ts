import type { DeploymentRecord, Store } from '../store/store';
import { TERMINAL } from '../shared/deployment';
import { ZERO_TIME } from './present';

export type LogLine = { header: string; timestamp: string } | { timestamp: string; line: string };

/** A line with the continuation token that resumes right after it. */
export interface LogEntry {
  line: LogLine;
  token: string;
}

const done = (status: string) => status === 'succeeded' || status === 'failed' || status === 'skipped';

export const TOKEN_PATTERN = /^0\.\d+\.\d+$/;

/**
 * Stream mode: walks every step from a continuation token "0.<step>.<position>", where position 0
 * is the step's header and position k + 1 follows the line stored with sequence number k. Lines
 * are never renumbered or removed, so a token stays valid for as long as the deployment is kept.
 * A step is left only once it ended (its writer flushes everything before recording that), so a
 * reader never skips lines still to come. `nextToken` is absent once the deployment ended and
 * everything was read.
 */
export async function readLogStream(
  store: Store,
  d: DeploymentRecord,
  from: string | undefined,
  count: number,
): Promise<{ entries: LogEntry[]; nextToken?: string }> {
  let [, step, pos] = (from ?? '0.0.0').split('.').map(Number);
  const token = () => `0.${step}.${pos}`;
  const entries: LogEntry[] = [];
  while (entries.length < count && step < d.steps.length) {
    const s = d.steps[step];
    if (s.status === 'not-started') break;
    if (pos === 0) {
      pos = 1;
      if (s.status !== 'skipped') entries.push({ line: { header: s.name, timestamp: ZERO_TIME }, token: token() });
    }
    for (const r of await store.readLogs(d.id, step, pos - 1, count - entries.length)) {
      pos = r.seq + 2;
      entries.push({ line: { timestamp: r.ts, line: r.line }, token: token() });
    }
    if (entries.length >= count || !done(s.status)) break;
    step += 1;
    pos = 0;
  }
  const finished = TERMINAL.includes(d.status) && step >= d.steps.length;
  return { entries, nextToken: finished ? undefined : token() };
}

/** Why a token cannot belong to this deployment, if it cannot. */
export function badToken(d: DeploymentRecord, token: string): string | undefined {
  if (!TOKEN_PATTERN.test(token)) return 'expected a token returned by an earlier call';
  const [, step, pos] = token.split('.').map(Number);
  if (step > d.steps.length || !Number.isSafeInteger(pos)) return 'not a token this deployment returned';
  return undefined;
}

/**
 * Pulumi's two log modes. Step mode (`step`, `offset`, `count`) reads one step; `nextOffset` is
 * absent once the step ended and was read to its end. Otherwise stream mode (see readLogStream).
 */
export async function readLogs(
  store: Store,
  d: DeploymentRecord,
  q: { continuationToken?: string; step?: number; offset: number; count: number },
): Promise<LogsAnswer> {
  if (q.step !== undefined) {
    const rows = await store.readLogs(d.id, q.step, q.offset, q.count);
    const more = rows.length === q.count || !done(d.steps[q.step].status);
    return {
      __type: 'DeploymentLogsStep',
      name: d.steps[q.step].name,
      lines: rows.map((r) => ({ timestamp: r.ts, line: r.line })),
      nextOffset: more ? q.offset + rows.length : undefined,
    };
  }
  const { entries, nextToken } = await readLogStream(store, d, q.continuationToken, q.count);
  return { __type: 'DeploymentLogs', lines: entries.map((e) => e.line), nextToken };
}

/** The two answers, told apart by the `__type` discriminator of Pulumi's OpenAPI spec. */
export interface LogsAnswer {
  __type: 'DeploymentLogs' | 'DeploymentLogsStep';
  /** Step mode: the step's name. */
  name?: string;
  lines: LogLine[];
  nextToken?: string;
  nextOffset?: number;
}
