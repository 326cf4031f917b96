import type { StackRef } from './names';

/** The git hosts review stacks work with (Bitbucket and Azure DevOps are not integrated). */
export type ReviewProvider = 'github' | 'gitlab';

/** Review stacks live this long after their pull request's last push, unless the template says otherwise. */
export const DEFAULT_REVIEW_TTL_HOURS = 7 * 24;

/**
 * The review stack of a template for a pull request: `<template>-pr-<number>`, in the template's
 * project. Deterministic, so every event of the pull request finds the same stack; the template's
 * name is shortened when needed to stay within the 100 characters of a stack name.
 */
export function reviewStackName(template: string, pullRequest: number): string {
  const suffix = `-pr-${pullRequest}`;
  return `${template.slice(0, 100 - suffix.length)}${suffix}`;
}

/** One workflow per review stack: review/{org}/{project}/{template}/{provider}/{repository}/{number}. */
export const reviewWorkflowId = (template: StackRef, provider: ReviewProvider, repository: string, pullRequest: number): string =>
  `review/${template.org}/${template.project}/${template.stack}/${provider}/${repository}/${pullRequest}`;

/** Marks settings generated from a template (Pulumi's read-only `source`), which pushes and pull requests never deploy. */
export const reviewSource = (provider: ReviewProvider): string => `${provider}-review-stack`;
export const isReviewSource = (source: unknown): boolean => typeof source === 'string' && source.endsWith('-review-stack');

/** What the review workflow of one pull request and template knows from the start. */
export interface ReviewStackInput {
  template: StackRef;
  review: StackRef;
  provider: ReviewProvider;
  /** As the git host spells it (owner/repo, group/project), for reporting. */
  repository: string;
  pullRequest: number;
  /** The branch the pull request merges into (the template's branch). */
  baseBranch: string;
}

/** New code on the pull request (opened, reopened, synchronized, labelled). */
export interface ReviewPush {
  commit: string;
  headBranch?: string;
  cloneUrl?: string;
  sender?: string;
  /** The template's time to live after the last push. */
  ttlHours: number;
}

/** The pull request was merged or closed. */
export interface ReviewClose {
  merged: boolean;
  sender?: string;
}

/** Where a review stack is in its life, as listed. */
export type ReviewState = 'deploying' | 'destroying' | 'destroy-failed' | 'removed' | 'failed';
