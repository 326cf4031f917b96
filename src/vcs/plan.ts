import type { DeploymentTrigger } from '../shared/deployment';
import { stackKey, type StackRef } from '../shared/names';
import { runnableIssues, type DeploymentSettings } from '../shared/settings';
import type { NewDeploymentRequest } from '../deployments/create';
import type { StoredSettings } from '../store/store';
import type { VcsEvent } from './event';
import { filterMatches, pathsTrigger } from './filters';
import { normalizeRepository, vcsBlockFor } from './repository';
import { describeIssues } from '../shared/issues';

export interface Planned {
  ref: StackRef;
  request: NewDeploymentRequest;
}

export interface Plan {
  deploy: Planned[];
  /** Stacks that name the repository but do not deploy this event, and why (for the log and the response). */
  skip: { stack: string; reason: string }[];
}

/**
 * Which of the repository's stacks this event deploys, and how: a push to a stack's branch runs
 * `update` of that commit, a matching tag `update` with PULUMI_CI_TAG_NAME, a pull request into
 * the branch a `preview` of its head commit. Settings are the stored ones, pinned to the commit.
 */
/** Whether deciding needs the pull request's changed files (some candidate stack filters paths). */
export function needsChangedFiles(event: VcsEvent, stacks: (StackRef & StoredSettings)[]): boolean {
  return event.event === 'pull_request' && event.changedFiles === undefined && stacks.some((s) => vcsBlockFor(s.settings, event.repo)?.paths?.length);
}

export function planDeployments(event: VcsEvent, stacks: (StackRef & StoredSettings)[]): Plan {
  const plan: Plan = { deploy: [], skip: [] };
  for (const s of stacks) {
    const ref = { org: s.org, project: s.project, stack: s.stack };
    const why = decide(event, s.settings);
    if (typeof why === 'string') {
      plan.skip.push({ stack: stackKey(ref), reason: why });
      continue;
    }
    const settings = pinned(s.settings, event);
    const issues = runnableIssues(settings);
    if (issues.length) {
      plan.skip.push({ stack: stackKey(ref), reason: `settings cannot run: ${describeIssues(issues)}` });
      continue;
    }
    plan.deploy.push({
      ref,
      request: {
        operation: why.operation,
        settings,
        inheritSettings: true,
        initiator: 'webhook',
        requestedBy: event.sender ?? event.repo.provider,
        trigger: triggerOf(event),
        ...(event.event === 'pull_request' && {
          supersedeKey: `pr:${event.repo.provider}:${event.repo.repository}#${event.number}/${stackKey(ref)}`,
        }),
      },
    });
  }
  return plan;
}

/** The operation to run, or why the stack does not deploy this event. */
function decide(event: VcsEvent, settings: DeploymentSettings): { operation: 'update' | 'preview' } | string {
  const block = vcsBlockFor(settings, event.repo);
  if (!block) return 'no VCS block names this repository';
  const repoURL = settings.sourceContext?.git?.repoURL;
  // The URL may carry credentials, and reasons are answered to the sender: it is not quoted.
  if (repoURL && !clonesRepository(repoURL, event)) return `sourceContext.git.repoURL is not the repository ${event.repository}`;
  const branch = settings.sourceContext?.git?.branch?.replace(/^refs\/heads\//, '') ?? event.defaultBranch;
  switch (event.event) {
    case 'push':
      if (!block.deployCommits) return 'deployCommits is off';
      if (event.branch !== branch) return `push to ${event.branch}, stack follows ${branch ?? '(no branch)'}`;
      if (!pathsTrigger(block.paths, event.changedFiles)) return 'no changed file passes the path filters';
      return { operation: 'update' };
    case 'tag':
      if (!block.deployTags) return 'deployTags is off';
      if (!filterMatches(block.tagFilters, event.tag)) return `tag ${event.tag} does not pass the tag filters`;
      return { operation: 'update' };
    case 'pull_request':
      // Pulumi's custom VCS protocol has no pull requests; previews need a place to report to.
      if (event.repo.provider === 'custom') return 'custom VCS repositories have no pull request previews';
      if (!block.previewPullRequests) return 'previewPullRequests is off';
      if (event.baseBranch !== branch) return `pull request into ${event.baseBranch}, stack follows ${branch ?? '(no branch)'}`;
      if (!pathsTrigger(block.paths, event.changedFiles)) return 'no changed file passes the path filters';
      return { operation: 'preview' };
  }
}

/**
 * Whether the stored repoURL is the repository the event is about, so that an event never deploys
 * code from elsewhere. Hosted URLs (https, ssh, scp-like) must end in the repository's path; other
 * URLs (file://, a local mirror) are the operator's choice.
 */
export function clonesRepository(repoURL: string, event: Pick<VcsEvent, 'repo'>): boolean {
  // A custom VCS stack was found by this URL or by its `vcs.repository`, which may name it another way.
  if (event.repo.provider === 'custom') return true;
  const hosted = /^(https?|ssh|git):\/\/[^/]+\/(.+)$/i.exec(repoURL) ?? /^[^/:@]+@[^:]+:(.+)$/.exec(repoURL);
  if (!hosted) return true;
  // Ends with: GitLab may be served below a path (https://host/gitlab/group/project).
  const path = normalizeRepository(event.repo.provider, hosted[hosted.length - 1]);
  return path === event.repo.repository || path.endsWith(`/${event.repo.repository}`);
}

/** The stored settings, checked out at the event's commit, with Pulumi's CI variables for it. */
function pinned(settings: DeploymentSettings, event: VcsEvent): DeploymentSettings {
  const { branch: _branch, ...git } = settings.sourceContext?.git ?? {};
  const ci: Record<string, string> =
    event.event === 'tag'
      ? { PULUMI_CI_TAG_NAME: event.tag }
      : event.event === 'push'
        ? { PULUMI_CI_BRANCH_NAME: event.branch }
        : {
            PULUMI_CI_BRANCH_NAME: event.headBranch ?? '',
            PULUMI_CI_PULL_REQUEST_SHA: event.commit,
            PULUMI_CI_PULL_REQUEST_NUMBER: String(event.number),
          };
  return {
    ...settings,
    sourceContext: { ...settings.sourceContext, git: { ...git, repoURL: git.repoURL ?? event.cloneUrl, commit: event.commit } },
    operationContext: {
      ...settings.operationContext,
      environmentVariables: { ...settings.operationContext?.environmentVariables, ...ci },
    },
  };
}

function triggerOf(event: VcsEvent): DeploymentTrigger {
  const base = { provider: event.repo.provider, repository: event.repository, commit: event.commit };
  if (event.event === 'push') return { ...base, event: 'push', branch: event.branch };
  if (event.event === 'tag') return { ...base, event: 'tag', tag: event.tag };
  return { ...base, event: 'pull_request', pullRequest: event.number, branch: event.baseBranch };
}
