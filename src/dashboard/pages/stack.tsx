import { DeploymentStatus, Operation } from '../../shared/deployment';
import { stackWorkflowId } from '../../shared/ids';
import type { StackRef } from '../../shared/names';
import { isSealed } from '../../shared/secrets';
import type { DeploymentSettings } from '../../shared/settings';
import { Action, deploymentPage, duration, Layout, Notice, stackPage, Status, TemporalLink } from '../layout';
import type { Deployment, User } from '../api-client';

export interface StackView {
  ref: StackRef;
  user: User;
  csrf: string;
  deployments: Deployment[];
  total: number;
  page: number;
  pageSize: number;
  status?: string;
  paused: { stackPaused: boolean; organizationPaused: boolean };
  settings?: DeploymentSettings;
  temporalUiUrl?: string;
  namespace: string;
  error?: string;
  done?: string;
}

/** Environment variables as lines of NAME=value; secrets are only named (they are write-only). */
function variables(settings: DeploymentSettings | undefined) {
  const env = Object.entries(settings?.operationContext?.environmentVariables ?? {});
  return {
    plain: env.filter(([, v]) => !isSealed(v)).map(([k, v]) => `${k}=${String(v)}`).join('\n'),
    secret: env.filter(([, v]) => isSealed(v)).map(([k]) => k),
  };
}

export function stackPageView(v: StackView) {
  const base = stackPage(v.ref);
  const canAct = v.user.tokenInfo.role !== 'viewer';
  const git = v.settings?.sourceContext?.git;
  const env = variables(v.settings);
  const pages = Math.max(1, Math.ceil(v.total / v.pageSize));
  const pageLink = (page: number) => `${base}?page=${page}${v.status ? `&status=${encodeURIComponent(v.status)}` : ''}`;
  return (
    <Layout title={`${v.ref.project}/${v.ref.stack}`} user={{ name: v.user.name, role: v.user.tokenInfo.role }} csrf={v.csrf}>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="/">{v.ref.org}</a> / {v.ref.project} / {v.ref.stack}
      </nav>
      <div class="heading">
        <h1>
          {v.ref.project}/{v.ref.stack} {(v.paused.stackPaused || v.paused.organizationPaused) && <span class="status status-paused">paused</span>}
        </h1>
        <TemporalLink base={v.temporalUiUrl} namespace={v.namespace} workflowId={stackWorkflowId(v.ref)} label="Queue workflow in Temporal" />
      </div>
      <Notice error={v.error} done={v.done} />
      {canAct && (
        <div class="actions">
          <Action action={`${base}/deploy`} label="Deploy" name="Start the deployment" csrf={v.csrf}>
            <label>
              Operation{' '}
              <select name="operation" aria-label="Operation">
                {Operation.options.map((op) => (
                  <option value={op}>{op}</option>
                ))}
              </select>
            </label>{' '}
          </Action>
          {v.paused.stackPaused ? (
            <Action action={`${base}/resume`} label="Resume" name="Resume the stack's queue" csrf={v.csrf} />
          ) : (
            <Action action={`${base}/pause`} label="Pause" name="Pause the stack's queue" csrf={v.csrf} />
          )}
        </div>
      )}
      {v.paused.organizationPaused && <p class="muted">The organization {v.ref.org} is paused: nothing starts until it is resumed.</p>}

      <section aria-labelledby="deployments">
        <h2 id="deployments">Deployments</h2>
        <form method="get" action={base} class="inline filter">
          <label>
            Status{' '}
            <select name="status" aria-label="Filter by status">
              <option value="">any</option>
              {DeploymentStatus.options.map((s) => (
                <option value={s} selected={s === v.status}>
                  {s}
                </option>
              ))}
            </select>
          </label>{' '}
          <button type="submit">Filter</button>
        </form>
        <div class="table-wrap">
          <table>
            <caption>
              {v.total} deployment{v.total === 1 ? '' : 's'}
              {v.status ? ` with status ${v.status}` : ''}
            </caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Operation</th>
                <th scope="col">Status</th>
                <th scope="col">Requested</th>
                <th scope="col">Duration</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {v.deployments.map((d) => (
                <tr>
                  <td data-label="Version">
                    <a href={deploymentPage(v.ref, d.id)}>#{d.version}</a>
                  </td>
                  <td data-label="Operation">{d.pulumiOperation}</td>
                  <td data-label="Status">
                    <Status status={d.status} />
                  </td>
                  <td data-label="Requested">{d.created} UTC</td>
                  <td data-label="Duration">{duration(d.jobs[0]?.started, ['running', 'accepted'].includes(d.status) ? undefined : d.modified)}</td>
                  <td data-label="By">
                    {d.requestedBy.name} ({d.initiator})
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <nav aria-label="Pages" class="pager">
          {v.page > 1 && <a href={pageLink(v.page - 1)}>Newer</a>} page {v.page} of {pages} {v.page < pages && <a href={pageLink(v.page + 1)}>Older</a>}
        </nav>
      </section>

      <section aria-labelledby="settings">
        <h2 id="settings">Deployment settings</h2>
        {v.settings === undefined && <p class="muted">This stack has no deployment settings.</p>}
        <form method="post" action={`${base}/settings`} class="settings">
          <input type="hidden" name="_csrf" value={v.csrf} />
          <label>
            Repository URL
            <input name="repoURL" value={git?.repoURL ?? ''} disabled={!canAct} />
          </label>
          <label>
            Branch
            <input name="branch" value={git?.branch ?? ''} disabled={!canAct} />
          </label>
          <label>
            Directory in the repository
            <input name="repoDir" value={git?.repoDir ?? ''} disabled={!canAct} />
          </label>
          <label>
            Runner pool (agentPoolID)
            <input name="agentPoolID" value={typeof v.settings?.agentPoolID === 'string' ? v.settings.agentPoolID : ''} disabled={!canAct} />
          </label>
          <label>
            Environment variables (NAME=value, one a line)
            <textarea name="variables" rows={4} disabled={!canAct}>
              {env.plain}
            </textarea>
          </label>
          <p class="muted">Secret variables (write-only): {env.secret.length ? env.secret.join(', ') : 'none'}</p>
          <label>
            Set secret variables (NAME=value, one a line; never shown again)
            <textarea name="secrets" rows={2} disabled={!canAct} autocomplete="off"></textarea>
          </label>
          {canAct && <button type="submit">Save settings</button>}
        </form>
      </section>
    </Layout>
  );
}
