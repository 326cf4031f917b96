import type { Kysely } from 'kysely';
import type { Database } from './schema';

export interface LogLine {
  step: number;
  seq: number;
  ts: string;
  line: string;
}

/** Deployments' log lines, numbered per step; a line is never renumbered or removed. */
export class LogStore {
  constructor(private readonly db: Kysely<Database>) {}

  async appendLogs(id: string, step: number, lines: { seq: number; ts: string; line: string }[]): Promise<void> {
    if (lines.length === 0) return;
    await this.db
      .insertInto('deployment_logs')
      .values(lines.map((l) => ({ deployment_id: id, step, ...l })))
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async countLogs(id: string, step: number): Promise<number> {
    const { max } = await this.db
      .selectFrom('deployment_logs')
      .select((eb) => eb.fn.max('seq').as('max'))
      .where('deployment_id', '=', id)
      .where('step', '=', step)
      .executeTakeFirstOrThrow();
    return max === null || max === undefined ? 0 : Number(max) + 1;
  }

  async readLogs(id: string, step: number, offset: number, count: number): Promise<LogLine[]> {
    return this.db
      .selectFrom('deployment_logs')
      .select(['step', 'seq', 'ts', 'line'])
      .where('deployment_id', '=', id)
      .where('step', '=', step)
      .where('seq', '>=', offset)
      .orderBy('seq')
      .limit(count)
      .execute();
  }
}
