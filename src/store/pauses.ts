import type { Kysely } from 'kysely';
import type { Database } from './schema';
import type { Clock } from './sql';
import type { StackRef } from '../shared/names';

/** Paused queues: one row per organization (project and stack empty) or stack. */
export class PauseStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: Clock,
  ) {}

  /** Pauses a stack's queue, or a whole organization's when only org is given. */
  async pause(org: string, ref?: StackRef): Promise<void> {
    await this.db
      .insertInto('deployment_pauses')
      .values({ org, project: ref?.project ?? '', stack: ref?.stack ?? '', created: this.now().toISOString() })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async resume(org: string, ref?: StackRef): Promise<void> {
    await this.db
      .deleteFrom('deployment_pauses')
      .where('org', '=', org)
      .where('project', '=', ref?.project ?? '')
      .where('stack', '=', ref?.stack ?? '')
      .execute();
  }

  async pauseState(ref: StackRef): Promise<{ stackPaused: boolean; organizationPaused: boolean }> {
    const rows = await this.db
      .selectFrom('deployment_pauses')
      .select(['project', 'stack'])
      .where('org', '=', ref.org)
      .where((eb) => eb.or([eb('project', '=', ''), eb.and([eb('project', '=', ref.project), eb('stack', '=', ref.stack)])]))
      .execute();
    return { stackPaused: rows.some((r) => r.project !== ''), organizationPaused: rows.some((r) => r.project === '') };
  }

  /** `project/stack` of every paused stack of an organization, and whether the organization is paused. */
  async orgPauseState(org: string): Promise<{ paused: boolean; pausedStacks: string[] }> {
    const rows = await this.db.selectFrom('deployment_pauses').select(['project', 'stack']).where('org', '=', org).orderBy('project').orderBy('stack').execute();
    return {
      paused: rows.some((r) => r.project === ''),
      pausedStacks: rows.filter((r) => r.project !== '').map((r) => `${r.project}/${r.stack}`),
    };
  }
}
