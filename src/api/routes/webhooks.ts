import { createHash } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ApiDeps } from '../deps';
import { apiError, badRequest } from '../errors';
import { QueueUnavailable, requestDeployment } from '../../deployments/queue';
import { claimDelivery, deliveryWorkflowId } from '../../deployments/delivery';
import { deploymentTarget, recordChange } from '../audit';
import { isIgnored, type VcsEvent } from '../../vcs/event';
import { githubPullRequestFiles } from '../../vcs/pull-request-files';
import { parseGenericVcs, parseGitHub, parseGitLab, type Parsed } from '../../vcs/payloads';
import { needsChangedFiles, planDeployments } from '../../vcs/plan';
import { verifyGenericVcs, verifyGitHub, verifyGitLab } from '../../vcs/signatures';
import { stackKey } from '../../shared/names';
import { githubReviewEvent, gitlabReviewEvent, type ReviewEvent } from '../../vcs/review-event';
import { notReviewStacks, planReviews, reviewNeedsChangedFiles } from '../../vcs/review-plan';
import { signalReviews, type ReviewDispatch } from '../../deployments/review-intake';
import { githubCommentEvent, gitlabCommentEvent, type CommentParsed } from '../../vcs/comment-event';
import { handleCommentDelivery } from '../pull-request-decisions';

const DEFAULT_WEBHOOK_MAX_BYTES = 5 * 1024 * 1024;

/** What each route needs from the request once the body is read. */
interface Intake {
  provider: 'github' | 'gitlab' | 'custom';
  /** The variable that configures the route, for the message when it is not set. */
  setting: string;
  secret: string | undefined;
  verify(secret: string, raw: Buffer, c: Context): boolean | Promise<boolean>;
  deliveryId(raw: Buffer, c: Context): string | undefined;
  parse(body: unknown, c: Context): Parsed;
  /** What the delivery means for review stacks (pull request events only). */
  review?(body: unknown, c: Context): ReviewEvent | undefined;
  /** A pull request comment, which may approve or reject deployments (comment events only). */
  comment?(body: unknown, c: Context): CommentParsed | undefined;
  /** The git host's API, to check a commenter's access and answer them. */
  api?: { apiUrl: string; token?: string };
  apiSetting?: string;
}

/**
 * Inbound git webhooks. They carry no API token: each authenticates by its signature over the raw
 * body (or GitLab's shared token), checked before the body is parsed. A route without a secret
 * configured refuses every request.
 */
export function webhookRoutes(deps: ApiDeps) {
  const w = deps.webhooks ?? { maxBytes: DEFAULT_WEBHOOK_MAX_BYTES };
  const limit = bodyLimit({
    maxSize: w.maxBytes,
    onError: (c) => apiError(c, 413, `webhook payloads are limited to ${w.maxBytes} bytes`),
  });
  const bodyHash = (raw: Buffer) => createHash('sha256').update(raw).digest('hex');

  const github: Intake = {
    provider: 'github',
    setting: 'STACKWRIGHT_GITHUB_WEBHOOK_SECRET',
    secret: w.githubSecret,
    verify: (secret, raw, c) => verifyGitHub(secret, raw.toString('utf8'), c.req.header('X-Hub-Signature-256')),
    deliveryId: (_raw, c) => c.req.header('X-GitHub-Delivery'),
    parse: (body, c) => parseGitHub(c.req.header('X-GitHub-Event') ?? '', body),
    review: (body, c) => githubReviewEvent(c.req.header('X-GitHub-Event') ?? '', body),
    comment: (body, c) => githubCommentEvent(c.req.header('X-GitHub-Event') ?? '', body),
    api: w.github,
    apiSetting: 'STACKWRIGHT_GITHUB_TOKEN',
  };
  const gitlab: Intake = {
    provider: 'gitlab',
    setting: 'STACKWRIGHT_GITLAB_WEBHOOK_TOKEN',
    secret: w.gitlabToken,
    verify: (secret, _raw, c) => verifyGitLab(secret, c.req.header('X-Gitlab-Token')),
    // Older GitLab versions send no delivery UUID; a redelivery then repeats the body byte for byte.
    deliveryId: (raw, c) => c.req.header('X-Gitlab-Event-UUID') ?? bodyHash(raw),
    parse: (body, c) => parseGitLab(c.req.header('X-Gitlab-Event') ?? '', body),
    review: (body, c) => gitlabReviewEvent(c.req.header('X-Gitlab-Event') ?? '', body),
    comment: (body, c) => gitlabCommentEvent(c.req.header('X-Gitlab-Event') ?? '', body),
    api: w.gitlab,
    apiSetting: 'STACKWRIGHT_GITLAB_TOKEN',
  };
  const generic: Intake = {
    provider: 'custom',
    setting: 'STACKWRIGHT_GENERIC_VCS_SECRET',
    secret: w.genericVcsSecret,
    verify: (secret, raw, c) => verifyGenericVcs(secret, raw, c.req.header('X-Generic-VCS-Signature')),
    deliveryId: (raw) => bodyHash(raw),
    parse: (body) => parseGenericVcs(body),
  };

  /** A GitHub pull request's files, when a stack filters paths; without them (no token, an error) filters are skipped. */
  const withChangedFiles = async (event: VcsEvent, stacks: Parameters<typeof planDeployments>[1]): Promise<VcsEvent> => {
    if (event.event !== 'pull_request' || !needsChangedFiles(event, stacks)) return event;
    return { ...event, changedFiles: await pullRequestFiles(event.repo.provider, event.repository, event.number) };
  };
  const pullRequestFiles = async (provider: string, repository: string, number: number): Promise<string[] | undefined> => {
    if (provider !== 'github') return undefined;
    const gh = w.github;
    if (!gh?.token) {
      deps.log.info({ repository }, 'no GitHub token to list the pull request files: path filters skipped');
      return undefined;
    }
    try {
      return await githubPullRequestFiles({ apiUrl: gh.apiUrl, token: gh.token }, repository, number);
    } catch (err) {
      deps.log.warn({ err, repository }, 'could not list the pull request files: path filters skipped');
      return undefined;
    }
  };

  const handle = (intake: Intake) => async (c: Context) => {
    if (!intake.secret) return apiError(c, 403, `${intake.provider} webhooks are not configured: set ${intake.setting}`);
    const raw = Buffer.from(await c.req.arrayBuffer());
    if (!(await intake.verify(intake.secret, raw, c))) return apiError(c, 401, 'missing or invalid webhook signature');

    const type = (c.req.header('Content-Type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') return apiError(c, 415, 'webhook payloads must be sent as application/json');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return badRequest(c, [{ path: [], message: 'the request body is not valid JSON' }]);
    }
    const comment = intake.comment?.(body, c);
    if (comment) {
      const api = intake.api?.token ? { apiUrl: intake.api.apiUrl, token: intake.api.token } : undefined;
      const provider = intake.provider as 'github' | 'gitlab';
      return handleCommentDelivery(deps, c, comment, { provider, id: intake.deliveryId(raw, c), api, setting: intake.apiSetting! });
    }
    const parsed = intake.parse(body, c);
    if (!parsed.ok) return badRequest(c, parsed.issues);
    const event = parsed.event;
    const review = intake.review?.(body, c);
    if (isIgnored(event) && !review) return c.json({ message: `nothing to do: ${event.ignored}`, deployments: [] }, 202);
    const about = isIgnored(event) ? review! : event;

    // Review stacks are deployed by their pull request's workflow only.
    const stacks = notReviewStacks(await deps.store.stacksForRepository(about.repo));
    if (stacks.length === 0 && !isIgnored(event)) {
      deps.log.info({ provider: about.repo.provider, repository: about.repo.repository }, 'webhook for a repository no stack deploys from');
      return c.json({ message: `no stack deploys from ${about.repository}`, deployments: [] }, 202);
    }
    const deployEvent = isIgnored(event) ? undefined : await withChangedFiles(event, stacks);
    const plan = deployEvent ? planDeployments(deployEvent, stacks) : { deploy: [], skip: [] };
    let files = deployEvent?.event === 'pull_request' ? deployEvent.changedFiles : undefined;
    if (review && files === undefined && reviewNeedsChangedFiles(review, stacks)) files = await pullRequestFiles(review.provider, review.repository, review.number);
    const reviews = review ? planReviews(review, stacks, files) : { signals: [], skip: [] };
    const skipped = [...plan.skip, ...reviews.skip];
    if (plan.deploy.length === 0 && reviews.signals.length === 0) {
      if (isIgnored(event)) return c.json({ message: `nothing to do: ${event.ignored}`, deployments: [], ...(skipped.length && { skipped }) }, 202);
      return c.json({ message: 'no stack deploys this event', deployments: [], skipped }, 202);
    }

    const deliveryId = intake.deliveryId(raw, c);
    if (!deliveryId) return badRequest(c, [{ path: ['X-GitHub-Delivery'], message: 'the delivery header is required' }], ['headers']);
    const handled = await claimDelivery(deps, intake.provider, deliveryId).catch((err: unknown) => {
      deps.log.error({ err }, 'could not claim webhook delivery');
      return null;
    });
    if (handled === null) return apiError(c, 503, 'could not reach Temporal to record the delivery; try again');
    if (handled === undefined) return c.json({ message: `delivery ${deliveryId} was already received`, deployments: [] }, 200);

    const started: { stack: string; id: string; version: number; operation: string }[] = [];
    try {
      for (const p of plan.deploy) {
        // Keyed by the delivery: a redelivery after a partial failure finds what was already queued.
        const key = deliveryWorkflowId(intake.provider, deliveryId);
        const r = await requestDeployment(deps, p.ref, p.request, { key, requestHash: deps.box.mac(key) });
        started.push({ stack: stackKey(p.ref), id: r.id, version: r.version, operation: p.request.operation });
        await recordChange(deps, {
          org: p.ref.org,
          event: 'deployment.create',
          target: deploymentTarget(p.ref, r.id),
          description: `Queued ${p.request.operation} deployment ${r.version} (requested by ${p.request.requestedBy})`,
          actor: `${intake.provider} webhook`,
          tokenId: null,
        });
      }
    } catch (err) {
      await handled({ ok: false, deployments: started.map((s) => `${s.stack}@${s.version}`) }).catch(() => undefined);
      if (err instanceof QueueUnavailable) {
        const message = started.length ? `could not reach Temporal to queue every deployment (${started.length} queued); a redelivery queues only the rest` : err.message;
        return apiError(c, 503, message);
      }
      throw err;
    }
    let reviewed: ReviewDispatch[] = [];
    try {
      reviewed = await signalReviews(deps, reviews.signals);
    } catch (err) {
      deps.log.error({ err, deliveryId }, 'could not signal the review stacks');
      await handled({ ok: false, deployments: started.map((s) => `${s.stack}@${s.version}`) }).catch(() => undefined);
      return apiError(c, 503, 'could not reach Temporal to hand the pull request to its review stacks; a redelivery tries again');
    }
    await handled({ ok: true, deployments: started.map((s) => `${s.stack}@${s.version}`) }).catch((err: unknown) =>
      deps.log.warn({ err, deliveryId }, 'could not record the delivery as handled'),
    );
    deps.log.info({ provider: intake.provider, deliveryId, deployments: started.map((s) => s.id) }, 'webhook started deployments');
    const message = `started ${started.length} deployment(s)${reviewed.length ? `, signalled ${reviewed.filter((r) => r.result === 'signalled').length} review stack(s)` : ''}`;
    return c.json({ message, deployments: started, skipped, ...(reviewed.length && { reviewStacks: reviewed }) }, 202);
  };

  // The limit per route: a sub-app's use('*') would reach every route of the app it is mounted in.
  return new Hono()
    .post('/api/webhooks/github', limit, handle(github))
    .post('/api/webhooks/gitlab', limit, handle(gitlab))
    .post('/api/webhooks/generic-vcs', limit, handle(generic))
    // Pulumi's own path for the custom VCS protocol, so senders written for it work unchanged.
    .post('/workflow/generic-vcs', limit, handle(generic));
}
