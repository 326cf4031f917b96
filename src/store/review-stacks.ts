import type { Kysely } from 'kysely';
import type { Database } from './schema';
import { stackColumns, type Clock } from './sql';
import type { StackRef } from '../shared/names';
import type { ReviewState } from '../shared/review';

export interface ReviewStackRecord extends StackRef {
  template: string;
  provider: string;
  repository: string;
  pullRequest: number;
  headBranch: string | null;
  headCommit: string | null;
  state: ReviewState;
  message: string | null;
  lastDeploymentId: string | null;
  workflowId: string;
  created: string;
  modified: string;
}

export type ReviewStackUpsert = Omit<ReviewStackRecord, 'created' | 'modified' | 'message' | 'lastDeploymentId'> & { message?: string | null; lastDeploymentId?: string | null };

/** The review stacks of each organization: what the listing shows and the Pulumi step copies config for. */
export class ReviewStackStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: Clock,
  ) {}

  async get(ref: StackRef): Promise<ReviewStackRecord | undefined> {
    const row = await this.db.selectFrom('review_stacks').selectAll().where((eb) => eb.and(stackColumns(ref))).executeTakeFirst();
    return row && toRecord(row);
  }

  /** Records a review stack (again, when its pull request was reopened). */
  async upsert(r: ReviewStackUpsert): Promise<void> {
    const now = this.now().toISOString();
    const values = {
      template: r.template,
      provider: r.provider,
      repository: r.repository,
      pull_request: r.pullRequest,
      head_branch: r.headBranch,
      head_commit: r.headCommit,
      state: r.state,
      workflow_id: r.workflowId,
      modified: now,
      ...(r.message !== undefined && { message: r.message }),
      ...(r.lastDeploymentId !== undefined && { last_deployment_id: r.lastDeploymentId }),
    };
    await this.db
      .insertInto('review_stacks')
      .values({ ...stackColumns(r), message: null, last_deployment_id: null, ...values, created: now })
      .onConflict((oc) => oc.columns(['org', 'project', 'stack']).doUpdateSet(values))
      .execute();
  }

  async setState(ref: StackRef, state: ReviewState, message: string | null, lastDeploymentId?: string): Promise<void> {
    await this.db
      .updateTable('review_stacks')
      .set({ state, message, modified: this.now().toISOString(), ...(lastDeploymentId && { last_deployment_id: lastDeploymentId }) })
      .where((eb) => eb.and(stackColumns(ref)))
      .execute();
  }

  /** An organization's review stacks, newest first; pages count from 1. */
  async list(org: string, o: { page: number; pageSize: number }): Promise<{ reviewStacks: ReviewStackRecord[]; total: number }> {
    const base = this.db.selectFrom('review_stacks').where('org', '=', org);
    const rows = await base
      .selectAll()
      .orderBy('created', 'desc')
      .orderBy('stack')
      .limit(o.pageSize)
      .offset((o.page - 1) * o.pageSize)
      .execute();
    const { n } = await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return { reviewStacks: rows.map(toRecord), total: Number(n) };
  }
}

function toRecord(row: Database['review_stacks']): ReviewStackRecord {
  return {
    org: row.org,
    project: row.project,
    stack: row.stack,
    template: row.template,
    provider: row.provider,
    repository: row.repository,
    pullRequest: Number(row.pull_request),
    headBranch: row.head_branch,
    headCommit: row.head_commit,
    state: row.state as ReviewState,
    message: row.message,
    lastDeploymentId: row.last_deployment_id,
    workflowId: row.workflow_id,
    created: row.created,
    modified: row.modified,
  };
}
