import type { Kysely } from 'kysely';
import type { Database } from './schema';
import type { ApprovalRequest, Decision } from '../shared/approval';

/** Keeps what a deployment waiting for approval showed (its preview's summary, the policy's terms). */
export async function saveApprovalRequest(db: Kysely<Database>, id: string, request: ApprovalRequest): Promise<void> {
  await db.updateTable('deployments').set({ approval_request: JSON.stringify(request) }).where('id', '=', id).execute();
}

/** Appends a decision; a retried write of the same decider's decision changes nothing. */
export async function appendDecision(db: Kysely<Database>, id: string, decision: Decision): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('deployments').select('approvals').where('id', '=', id).executeTakeFirst();
    if (!row) return;
    const decisions: Decision[] = row.approvals ? JSON.parse(row.approvals) : [];
    if (decisions.some((d) => d.name === decision.name)) return;
    await tx.updateTable('deployments').set({ approvals: JSON.stringify([...decisions, decision]) }).where('id', '=', id).execute();
  });
}
