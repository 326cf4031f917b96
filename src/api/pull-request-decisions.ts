import type { Context } from 'hono';
import type { ApiDeps } from './deps';
import { apiError, badRequest } from './errors';
import { deploymentTarget, recordChange } from './audit';
import { claimDelivery } from '../deployments/delivery';
import { decide, DecisionRefused } from '../deployments/decide';
import { gitHostIdentity, type ApprovalState } from '../shared/approval';
import { stackKey } from '../shared/names';
import type { CommentParsed, PullRequestCommand } from '../vcs/comment-event';
import { hasWriteAccess, replyOnPullRequest, type GitHostApi } from '../vcs/pull-request-access';
import type { DeploymentRecord } from '../store/deployments';

/** One deployment a comment decided on, or tried to. */
export interface CommentDecision {
  stack: string;
  id: string;
  version: number;
  result: 'accepted' | 'refused';
  message: string;
}

/**
 * `/stackwright approve|reject [comment]` on a pull request: decides on every deployment whose git
 * trigger names the pull request and that waits for approval (a review stack's update, say), through
 * the same Temporal update as the REST route. The author decides as `github:<login>` /
 * `gitlab:<username>` with the deployer role, once the git host says they have write access; the
 * answer is a comment on the pull request.
 */
export async function handleCommentDelivery(
  deps: ApiDeps,
  c: Context,
  parsed: CommentParsed,
  delivery: { provider: 'github' | 'gitlab'; id: string | undefined; api: GitHostApi | undefined; setting: string },
): Promise<Response> {
  if (!parsed.ok) return badRequest(c, parsed.issues);
  const cmd = parsed.command;
  if (!cmd) return c.json({ message: `nothing to do: ${parsed.ignored}`, deployments: [] }, 202);
  if (!delivery.api) {
    deps.log.warn({ repository: cmd.repository }, `a pull request comment asks for a decision, but ${delivery.setting} is not set to check its author's access`);
    return c.json({ message: `cannot check the author's write access: set ${delivery.setting}`, deployments: [] }, 202);
  }
  if (!delivery.id) return badRequest(c, [{ path: ['X-GitHub-Delivery'], message: 'the delivery header is required' }], ['headers']);
  const handled = await claimDelivery(deps, delivery.provider, delivery.id).catch((err: unknown) => {
    deps.log.error({ err }, 'could not claim webhook delivery');
    return null;
  });
  if (handled === null) return apiError(c, 503, 'could not reach Temporal to record the delivery; try again');
  if (handled === undefined) return c.json({ message: `delivery ${delivery.id} was already received`, deployments: [] }, 200);
  try {
    const decisions = await decideFromComment(deps, delivery.api, cmd);
    await handled({ ok: true, deployments: decisions.filter((d) => d.result === 'accepted').map((d) => `${d.stack}@${d.version}`) }).catch(() => undefined);
    return c.json({ message: `${decisions.filter((d) => d.result === 'accepted').length} decision(s) taken`, decisions }, 200);
  } catch (err) {
    // A redelivery may claim it again: nothing was decided, or the decisions taken are refused as repeated.
    deps.log.error({ err, repository: cmd.repository, number: cmd.number }, 'could not handle a pull request decision');
    await handled({ ok: false, deployments: [] }).catch(() => undefined);
    return apiError(c, 502, `could not reach ${cmd.provider === 'github' ? 'GitHub' : 'GitLab'} or Temporal to handle the decision; a redelivery tries again`);
  }
}

async function decideFromComment(deps: ApiDeps, api: GitHostApi, cmd: PullRequestCommand): Promise<CommentDecision[]> {
  // The answer is a courtesy: decisions taken stand even when it cannot be written.
  const reply = (body: string) =>
    replyOnPullRequest(api, cmd, body).catch((err: unknown) => deps.log.warn({ err, repository: cmd.repository, number: cmd.number }, 'could not answer a pull request comment'));
  const who = gitHostIdentity(cmd.provider, cmd.author);
  const kind = cmd.provider === 'github' ? 'pull request' : 'merge request';
  const waiting = await deps.store.deployments.byPullRequest({ provider: cmd.provider, repository: cmd.repository, number: cmd.number }, ['waiting-for-approval']);
  if (waiting.length === 0) {
    await reply(`Stackwright: \`/stackwright ${cmd.decision}\` by @${cmd.author} not accepted: no deployment of this ${kind} is waiting for approval.`);
    return [];
  }
  if (!(await hasWriteAccess(api, cmd))) {
    const refused = `${who} has no write access to ${cmd.repository}`;
    await reply(`Stackwright: \`/stackwright ${cmd.decision}\` by @${cmd.author} not accepted: ${refused}.`);
    return waiting.map((d) => outcome(d, 'refused', refused));
  }
  const decisions: CommentDecision[] = [];
  for (const d of waiting) {
    try {
      const state = await decide(deps, d, d.id, cmd.decision, { name: who, role: 'deployer', source: 'pull-request', ...(cmd.comment && { comment: cmd.comment }) });
      decisions.push(outcome(d, 'accepted', accepted(cmd.decision, state)));
      const verb = cmd.decision === 'approve' ? 'Approved' : 'Rejected';
      await recordChange(deps, {
        org: d.org,
        event: `deployment.${cmd.decision}`,
        target: deploymentTarget(d, d.id),
        description: `${verb} deployment ${d.id} (${kind} comment on ${cmd.repository}#${cmd.number})`,
        actor: who,
        tokenId: null,
      });
    } catch (err) {
      if (!(err instanceof DecisionRefused)) throw err;
      decisions.push(outcome(d, 'refused', err.message));
    }
  }
  const lines = decisions.map((d) => `- ${d.stack} deployment ${d.version}: ${d.result === 'accepted' ? d.message : `not accepted: ${d.message}`}`);
  await reply([`Stackwright: \`/stackwright ${cmd.decision}\` by @${cmd.author} (${who}):`, '', ...lines].join('\n'));
  return decisions;
}

const outcome = (d: DeploymentRecord, result: CommentDecision['result'], message: string): CommentDecision => ({ stack: stackKey(d), id: d.id, version: d.version, result, message });

/** What an accepted decision did, and what remains. */
function accepted(decision: 'approve' | 'reject', s: ApprovalState): string {
  if (decision === 'reject') return 'rejected; it ends failed and nothing is applied.';
  const approvals = s.approvals.filter((a) => a.decision === 'approve').length;
  if (s.waiting) return `approved (${approvals} of ${s.requiredApprovals}); waiting for ${s.requiredApprovals - approvals} more approval(s).`;
  return `approved (${approvals} of ${s.requiredApprovals}); the approved plan is applied now.`;
}
