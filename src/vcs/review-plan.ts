import { stackKey, type StackRef } from '../shared/names';
import { isReviewSource, reviewStackName, reviewWorkflowId, type ReviewClose, type ReviewPush, type ReviewStackInput } from '../shared/review';
import type { StoredSettings } from '../store/store';
import { pathsTrigger } from './filters';
import { clonesRepository } from './plan';
import { vcsBlockFor } from './repository';
import type { ReviewEvent } from './review-event';
import { ttlHoursOf, type TemplateBlock } from './review-settings';

/** A signal to the review workflow of one template and pull request. */
export interface ReviewSignal {
  workflowId: string;
  input: ReviewStackInput;
  push?: ReviewPush;
  close?: ReviewClose;
}

export interface ReviewPlan {
  signals: ReviewSignal[];
  /** Templates of the repository that this event does not concern, and why. */
  skip: { stack: string; reason: string }[];
}

/** Review stacks are generated, never templates or targets of git events themselves. */
export const notReviewStacks = <T extends StoredSettings>(stacks: T[]): T[] => stacks.filter((s) => !isReviewSource(s.settings.source));

/** Whether choosing templates needs the pull request's changed files (a template filters paths). */
export function reviewNeedsChangedFiles(event: ReviewEvent, stacks: (StackRef & StoredSettings)[]): boolean {
  return event.action === 'push' && stacks.some((s) => templateBlock(s, event)?.paths?.length);
}

/**
 * Which templates' review stacks this pull request event drives. A template serves pull requests
 * into its own branch, from the repository itself (not forks), carrying one of its
 * `reviewStackLabels` when it has any, and touching files its path filters pass (several templates
 * of a branch are chosen between by their filters). A close goes to every template of the branch:
 * only those with a review stack for the pull request act on it.
 */
export function planReviews(event: ReviewEvent, stacks: (StackRef & StoredSettings)[], changedFiles?: string[]): ReviewPlan {
  const plan: ReviewPlan = { signals: [], skip: [] };
  for (const s of notReviewStacks(stacks)) {
    const block = templateBlock(s, event);
    if (!block?.pullRequestTemplate) continue;
    const why = refusal(event, s, block, changedFiles);
    if (why) {
      plan.skip.push({ stack: stackKey(s), reason: why });
      continue;
    }
    const template = { org: s.org, project: s.project, stack: s.stack };
    const input: ReviewStackInput = {
      template,
      review: { ...template, stack: reviewStackName(s.stack, event.number) },
      provider: event.provider,
      repository: event.repository,
      pullRequest: event.number,
      baseBranch: event.baseBranch,
    };
    plan.signals.push({
      workflowId: reviewWorkflowId(template, event.provider, event.repo.repository, event.number),
      input,
      ...(event.action === 'push'
        ? { push: { commit: event.commit, headBranch: event.headBranch, cloneUrl: event.cloneUrl, sender: event.sender, ttlHours: ttlHoursOf(block) } }
        : { close: { merged: event.merged, sender: event.sender } }),
    });
  }
  return plan;
}

const templateBlock = (s: StoredSettings, event: ReviewEvent) => vcsBlockFor(s.settings, event.repo) as TemplateBlock | undefined;

function refusal(event: ReviewEvent, s: StoredSettings, block: TemplateBlock, changedFiles: string[] | undefined): string | undefined {
  const repoURL = s.settings.sourceContext?.git?.repoURL;
  if (repoURL && !clonesRepository(repoURL, event)) return `sourceContext.git.repoURL is not the repository ${event.repository}`;
  const branch = s.settings.sourceContext?.git?.branch?.replace(/^refs\/heads\//, '');
  if (event.baseBranch !== branch) return `pull request into ${event.baseBranch}, template follows ${branch ?? '(no branch)'}`;
  if (event.action === 'close') return undefined;
  if (event.fork) return 'pull requests from forks get no review stack: their code would run with the template’s secrets';
  const labels = block.reviewStackLabels ?? [];
  if (labels.length && !labels.some((l) => event.labels.includes(l))) return `the pull request carries none of the labels ${labels.join(', ')}`;
  if (!pathsTrigger(block.paths, changedFiles)) return 'no changed file passes the template’s path filters';
  return undefined;
}
