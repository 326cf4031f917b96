import type { DeploymentRecord, Store } from '../store/store';
import { TERMINAL } from '../shared/deployment';
import { ZERO_TIME } from './present';

type Line = { header: string; timestamp: string } | { timestamp: string; line: string };

const done = (status: string) => status === 'succeeded' || status === 'failed' || status === 'skipped';

/**
 * Pulumi's two log modes. Step mode (`step`, `offset`, `count`) reads one step. Stream mode walks
 * every step with a `continuationToken` "0.<step>.<position>", where position 0 is the step's
 * header line and position k its k-th log line; `nextToken` is absent once the deployment ended
 * and everything was read.
 */
export async function readLogs(
  store: Store,
  d: DeploymentRecord,
  q: { continuationToken?: string; step?: number; offset: number; count: number },
): Promise<{ lines: Line[]; nextToken?: string; nextOffset?: number }> {
  if (q.step !== undefined) {
    const rows = await store.readLogs(d.id, q.step, q.offset, q.count);
    const more = rows.length === q.count || !done(d.steps[q.step].status);
    return { lines: rows.map((r) => ({ timestamp: r.ts, line: r.line })), nextOffset: more ? q.offset + rows.length : undefined };
  }

  let [, step, pos] = (q.continuationToken ?? '0.0.0').split('.').map(Number);
  const lines: Line[] = [];
  while (lines.length < q.count && step < d.steps.length) {
    const s = d.steps[step];
    if (s.status === 'not-started') break;
    if (pos === 0) {
      if (s.status !== 'skipped') lines.push({ header: s.name, timestamp: ZERO_TIME });
      pos = 1;
    }
    const rows = await store.readLogs(d.id, step, pos - 1, q.count - lines.length);
    lines.push(...rows.map((r) => ({ timestamp: r.ts, line: r.line })));
    pos += rows.length;
    if (lines.length >= q.count || !done(s.status)) break;
    step += 1;
    pos = 0;
  }
  const finished = TERMINAL.includes(d.status) && step >= d.steps.length;
  return { lines, nextToken: finished ? undefined : `0.${step}.${pos}` };
}
