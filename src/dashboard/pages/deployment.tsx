import { deploymentWorkflowId, stackWorkflowId } from '../../shared/ids';
import type { StackRef } from '../../shared/names';
import { TERMINAL, type DeploymentStatus } from '../../shared/deployment';
import { Action, deploymentPage, duration, Layout, Notice, stackPage, Status, TemporalLink } from '../layout';
import type { Deployment, User } from '../api-client';

export interface DeploymentView {
  ref: StackRef;
  d: Deployment;
  user: User;
  csrf: string;
  temporalUiUrl?: string;
  namespace: string;
  error?: string;
  done?: string;
}

/** The steps table; while the deployment runs it reloads itself (htmx) every two seconds. */
export function Steps(props: { ref: StackRef; d: Deployment }) {
  const { d } = props;
  const live = !TERMINAL.includes(d.status as DeploymentStatus);
  const steps = d.jobs[0]?.steps ?? [];
  return (
    <section
      id="steps"
      aria-labelledby="steps-title"
      aria-live="polite"
      {...(live && { 'hx-get': deploymentPage(props.ref, d.id), 'hx-trigger': 'every 2s', 'hx-select': '#steps', 'hx-swap': 'outerHTML' })}
    >
      <h2 id="steps-title">
        Steps <Status status={d.status} />
      </h2>
      {d.message && <p class="muted">{d.message}</p>}
      <ol class="steps">
        {steps.map((s) => (
          <li>
            <span class="step-name">{s.name}</span> <Status status={s.status} /> <span class="muted">{duration(s.started, s.status === 'running' ? undefined : s.lastUpdated)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

export function deploymentPageView(v: DeploymentView) {
  const { d, ref } = v;
  const canAct = v.user.tokenInfo.role !== 'viewer';
  const base = deploymentPage(ref, d.id);
  const git = d.configuration.source.git;
  const ended = TERMINAL.includes(d.status as DeploymentStatus);
  return (
    <Layout title={`#${d.version} ${d.pulumiOperation}`} user={{ name: v.user.name, role: v.user.tokenInfo.role }} csrf={v.csrf}>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="/">{ref.org}</a> / <a href={stackPage(ref)}>{`${ref.project}/${ref.stack}`}</a> / #{d.version}
      </nav>
      <div class="heading">
        <h1>
          Deployment #{d.version}: {d.pulumiOperation}
        </h1>
        <span class="links">
          <TemporalLink base={v.temporalUiUrl} namespace={v.namespace} workflowId={deploymentWorkflowId(ref, d.version)} label="Workflow in Temporal" />{' '}
          <TemporalLink base={v.temporalUiUrl} namespace={v.namespace} workflowId={stackWorkflowId(ref)} label="Queue workflow" />
        </span>
      </div>
      <Notice error={v.error} done={v.done} />
      <dl class="facts">
        <dt>Requested</dt>
        <dd>
          {d.created} UTC by {d.requestedBy.name} ({d.initiator})
        </dd>
        {git && (
          <>
            <dt>Source</dt>
            <dd>
              {git.repoURL} {git.branch} {git.commit?.slice(0, 12)}
            </dd>
          </>
        )}
        {d.approval && (
          <>
            <dt>Approval</dt>
            <dd>
              {d.approvals?.length ?? 0} of {d.approval.requiredApprovals} approvals
              {d.approval.approvers.length ? `; approvers: ${d.approval.approvers.join(', ')}` : ''}
              {d.approval.deadline ? `; deadline ${d.approval.deadline}` : ''}
            </dd>
          </>
        )}
      </dl>
      {canAct && !ended && (
        <div class="actions">
          {d.status === 'waiting-for-approval' && (
            <>
              <Action action={`${base}/approve`} label="Approve" name={`Approve deployment ${d.version}`} csrf={v.csrf}>
                <input name="comment" aria-label="Comment" placeholder="comment (optional)" />{' '}
              </Action>
              <Action action={`${base}/reject`} label="Reject" name={`Reject deployment ${d.version}`} csrf={v.csrf} danger />
            </>
          )}
          <Action action={`${base}/cancel`} label="Cancel" name={`Cancel deployment ${d.version}`} csrf={v.csrf} danger />
        </div>
      )}
      <Steps ref={ref} d={d} />
      <section aria-labelledby="log-title">
        <h2 id="log-title">Log</h2>
        <pre id="log" class="log" tabindex={0} aria-label="Deployment log" data-stream={`${base}/log`}></pre>
        <p id="log-end" class="muted" role="status"></p>
      </section>
    </Layout>
  );
}
