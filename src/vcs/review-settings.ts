import type { DeploymentSettings } from '../shared/settings';
import { DEFAULT_REVIEW_TTL_HOURS, reviewSource, type ReviewPush, type ReviewStackInput } from '../shared/review';

/** The trigger flags and gates of a template's `gitHub` or `vcs` block. */
export interface TemplateBlock {
  pullRequestTemplate?: boolean;
  reviewStackLabels?: string[];
  reviewStackTtlHours?: number;
  paths?: string[];
}

export const ttlHoursOf = (block: TemplateBlock): number => block.reviewStackTtlHours ?? DEFAULT_REVIEW_TTL_HOURS;

/**
 * A review stack's settings: the template's, following the pull request's head branch, marked as
 * generated (`source`) and with every trigger off, so that only its pull request deploys it.
 */
export function reviewSettings(template: DeploymentSettings, input: ReviewStackInput, push: ReviewPush): DeploymentSettings {
  const { commit: _commit, ...git } = template.sourceContext?.git ?? {};
  const off = (block: unknown) =>
    block && typeof block === 'object'
      ? { ...block, pullRequestTemplate: false, deployCommits: false, previewPullRequests: false, deployTags: false, deployPullRequest: input.pullRequest }
      : undefined;
  const out: DeploymentSettings = {
    ...template,
    sourceContext: { ...template.sourceContext, git: { ...git, repoURL: git.repoURL ?? push.cloneUrl, ...(push.headBranch && { branch: push.headBranch }) } },
    source: reviewSource(input.provider),
  };
  for (const key of ['gitHub', 'vcs'] as const) {
    const block = off(template[key]);
    if (block) out[key] = block;
  }
  return out;
}

/** The settings one deployment of the review stack runs with: its commit, and Pulumi's CI variables for the pull request. */
export function pinnedReviewSettings(settings: DeploymentSettings, input: ReviewStackInput, commit: string, headBranch?: string): DeploymentSettings {
  const { branch, ...git } = settings.sourceContext?.git ?? {};
  return {
    ...settings,
    sourceContext: { ...settings.sourceContext, git: { ...git, commit } },
    operationContext: {
      ...settings.operationContext,
      environmentVariables: {
        ...settings.operationContext?.environmentVariables,
        PULUMI_CI_BRANCH_NAME: headBranch ?? branch ?? '',
        PULUMI_CI_PULL_REQUEST_SHA: commit,
        PULUMI_CI_PULL_REQUEST_NUMBER: String(input.pullRequest),
      },
    },
  };
}
