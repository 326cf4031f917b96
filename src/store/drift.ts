import type { Kysely } from 'kysely';
import type { Database } from './schema';
import { stackColumns } from './sql';
import type { DeploymentRecord, DeploymentStore } from './deployments';
import type { StackRef } from '../shared/names';
import { TERMINAL } from '../shared/deployment';
import { DRIFT_OPERATIONS } from '../shared/drift';

/** A detect-drift deployment (with the remediation it queued), or a remediate-drift run of its own. */
export interface DriftRunRecord {
  deployment: DeploymentRecord;
  remediation?: DeploymentRecord;
}

export interface DriftStatus {
  driftDetected: boolean;
  latestDriftRun?: string;
  runInProgress: boolean;
}

/** Drift runs, read from the drift operations' deployment records. */
export class DriftStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly deployments: DeploymentStore,
  ) {}

  /**
   * A stack's drift runs, newest first: every detect-drift deployment, and the remediate-drift
   * deployments no detection queued (those are shown with their detection).
   */
  async listDriftRuns(ref: StackRef, o: { page: number; pageSize: number }): Promise<{ runs: DriftRunRecord[]; total: number }> {
    const base = this.db
      .selectFrom('deployments')
      .where((eb) => eb.and(stackColumns(ref)))
      .where((eb) =>
        eb.or([
          eb('operation', '=', 'detect-drift'),
          eb.and([
            eb('operation', '=', 'remediate-drift'),
            eb(
              'id',
              'not in',
              eb
                .selectFrom('deployments as d')
                .select('d.drift_remediation_id')
                .where((e) => e.and({ 'd.org': ref.org, 'd.project': ref.project, 'd.stack': ref.stack }))
                .where('d.drift_remediation_id', 'is not', null),
            ),
          ]),
        ]),
      );
    const { total } = await base.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
    const rows = await base
      .selectAll()
      .orderBy('version', 'desc')
      .limit(o.pageSize)
      .offset((o.page - 1) * o.pageSize)
      .execute();
    const deployments = await this.deployments.hydrate(rows);
    const remediationIds = deployments.flatMap((d) => (d.driftRemediationId ? [d.driftRemediationId] : []));
    const remediations = remediationIds.length
      ? await this.deployments.hydrate(await this.db.selectFrom('deployments').selectAll().where('id', 'in', remediationIds).execute())
      : [];
    return {
      runs: deployments.map((d) => ({ deployment: d, remediation: remediations.find((r) => r.id === d.driftRemediationId) })),
      total: Number(total),
    };
  }

  /**
   * Drifted means the last drift operation that succeeded was a detection that found drift: a
   * successful remediation since then brought the resources back to the program.
   */
  async driftStatus(ref: StackRef): Promise<DriftStatus> {
    const drift = this.db
      .selectFrom('deployments')
      .select(['id', 'operation', 'status', 'drift_detected'])
      .where((eb) => eb.and(stackColumns(ref)))
      .where('operation', 'in', DRIFT_OPERATIONS)
      .orderBy('version', 'desc');
    const [latest] = (await this.listDriftRuns(ref, { page: 1, pageSize: 1 })).runs;
    const lastSucceeded = await drift.where('status', '=', 'succeeded').limit(1).executeTakeFirst();
    const inProgress = await drift.where('status', 'not in', TERMINAL).limit(1).executeTakeFirst();
    return {
      driftDetected: lastSucceeded?.operation === 'detect-drift' && lastSucceeded.drift_detected === 1,
      latestDriftRun: latest?.deployment.id,
      runInProgress: inProgress !== undefined,
    };
  }
}
