import { ApplicationFailure, Context } from '@temporalio/activity';
import type { DeploymentTrigger, DeploymentStatus } from '../shared/deployment';
import { stackKey, type StackRef } from '../shared/names';
import { runnableIssues } from '../shared/settings';
import { reviewWorkflowId, type ReviewPush, type ReviewStackInput, type ReviewState } from '../shared/review';
import { requestDeployment, type NewDeploymentRequest } from '../deployments/queue';
import { pinnedReviewSettings, reviewSettings } from '../vcs/review-settings';
import type { ActivityDeps } from './context';
import { reportReviewRemoved } from './review-report';
import { describeIssues } from '../shared/issues';

/** Queued updates and destroys of one review stack share this key: the newest supersedes the others. */
const supersedeKey = (input: ReviewStackInput) => `review:${stackKey(input.review)}`;

/** What the review workflow asks of the store and the stack queue. */
export function createReviewActivities(deps: ActivityDeps) {
  const queue = (input: ReviewStackInput, req: NewDeploymentRequest, key: string) =>
    requestDeployment(
      { store: deps.store, temporal: Context.current().client, taskQueue: deps.taskQueue, log: { error: (meta, message) => Context.current().log.error(message, meta) } },
      input.review,
      req,
      // A retried activity finds the deployment it already queued.
      { key, requestHash: deps.box.mac(`${stackKey(input.review)}/${key}`) },
    );
  const trigger = (input: ReviewStackInput, commit: string): DeploymentTrigger => ({
    provider: input.provider,
    repository: input.repository,
    event: 'pull_request',
    commit,
    pullRequest: input.pullRequest,
    branch: input.baseBranch,
  });

  return {
    /** Creates or refreshes the review stack's settings from its template, then queues an update of the pushed commit (once per `key`). */
    async deployReviewStack(input: ReviewStackInput, push: ReviewPush, key: string): Promise<{ id: string; version: number }> {
      const template = await deps.store.getSettings(input.template);
      if (!template) throw ApplicationFailure.nonRetryable(`the template stack ${stackKey(input.template)} has no deployment settings any more`, 'TemplateGone');
      const settings = reviewSettings(template.settings, input, push);
      const pinned = pinnedReviewSettings(settings, input, push.commit, push.headBranch);
      const issues = runnableIssues(pinned);
      if (issues.length) throw ApplicationFailure.nonRetryable(`the template's settings cannot run: ${describeIssues(issues)}`, 'TemplateInvalid');
      await deps.store.saveSettings(input.review, settings);
      await deps.store.reviewStacks.upsert({
        ...input.review,
        template: input.template.stack,
        provider: input.provider,
        repository: input.repository,
        pullRequest: input.pullRequest,
        headBranch: push.headBranch ?? null,
        headCommit: push.commit,
        state: 'deploying',
        message: null,
        workflowId: Context.current().info.workflowExecution?.workflowId ?? reviewWorkflowId(input.template, input.provider, input.repository.toLowerCase(), input.pullRequest),
      });
      const r = await queue(
        input,
        {
          operation: 'update',
          settings: pinned,
          inheritSettings: true,
          initiator: 'webhook',
          requestedBy: push.sender ?? input.provider,
          trigger: trigger(input, push.commit),
          supersedeKey: supersedeKey(input),
        },
        `review-update/${key}/${push.commit}`,
      );
      await deps.store.reviewStacks.setState(input.review, 'deploying', null, r.id);
      return { id: r.id, version: r.version };
    },

    /** Queues a destroy of the last deployed commit; undefined when the stack was never set up (nothing to destroy). */
    async queueReviewDestroy(input: ReviewStackInput, reason: string, attempt: number, life: string): Promise<{ id: string; version: number } | undefined> {
      const [stored, review] = await Promise.all([deps.store.getSettings(input.review), deps.store.reviewStacks.get(input.review)]);
      if (!stored || !review?.headCommit) return undefined;
      const r = await queue(
        input,
        {
          operation: 'destroy',
          settings: pinnedReviewSettings(stored.settings, input, review.headCommit, review.headBranch ?? undefined),
          inheritSettings: true,
          initiator: 'webhook',
          requestedBy: reason === 'ttl' ? 'review stack time to live' : input.provider,
          trigger: trigger(input, review.headCommit),
          supersedeKey: supersedeKey(input),
        },
        `review-destroy/${life}/${attempt}`,
      );
      await deps.store.reviewStacks.setState(input.review, 'destroying', attempt > 1 ? `Destroy attempt ${attempt}.` : null, r.id);
      return { id: r.id, version: r.version };
    },

    async deploymentStatus(id: string): Promise<DeploymentStatus | undefined> {
      return (await deps.store.getDeploymentById(id))?.status;
    },

    markReviewStack: (ref: StackRef, state: ReviewState, message: string | null) => deps.store.reviewStacks.setState(ref, state, message),

    /** The pull request's comment for the review stack says it is gone. */
    reportReviewRemoved: (input: ReviewStackInput, reason: string) => reportReviewRemoved(deps, input, reason),
  };
}
