import type { Store } from '../../store/store';
import { listStacks } from '../../store/stack-list';
import { ScheduleStore, type ScheduleRecord } from '../../store/schedules';
import type { StackRef } from '../../shared/names';
import { Action, deploymentPage, Layout, Notice, stackPage, Status } from '../layout';
import type { User } from '../api-client';

interface StackRow {
  ref: StackRef;
  last?: { id: string; version: number; operation: string; status: string; modified: string };
  paused: boolean;
  drift: string;
  schedules: ScheduleRecord[];
  agentPoolID?: string;
  review?: { pullRequest: number; state: string; repository: string };
}

/** What the overview shows of one stack, read from the store like the API's routes read it. */
async function stackRow(store: Store, schedules: ScheduleStore, ref: StackRef): Promise<StackRow> {
  const [page, pause, drift, scheduled, settings, review] = await Promise.all([
    store.listDeployments(ref, { page: 1, pageSize: 1, asc: false }),
    store.pauseState(ref),
    store.driftStatus(ref),
    schedules.list(ref),
    store.getSettings(ref),
    store.reviewStacks.get(ref),
  ]);
  const d = page.deployments[0];
  return {
    ref,
    last: d && { id: d.id, version: d.version, operation: d.operation, status: d.status, modified: d.modified },
    paused: pause.stackPaused || pause.organizationPaused,
    drift: drift.runInProgress ? 'checking' : drift.latestDriftRun ? (drift.driftDetected ? 'drifted' : 'in sync') : 'never checked',
    schedules: scheduled,
    agentPoolID: typeof settings?.settings.agentPoolID === 'string' ? settings.settings.agentPoolID : undefined,
    review: review && { pullRequest: review.pullRequest, state: review.state, repository: review.repository },
  };
}

const describeSchedule = (s: ScheduleRecord) => {
  const when = s.scheduleCron ? `cron ${s.scheduleCron}` : `once at ${s.scheduleOnce?.slice(0, 16).replace('T', ' ')} UTC`;
  const kind = s.kind === 'ttl' ? 'TTL: destroy' : s.kind === 'drift' ? 'drift check' : s.request.operation;
  return `${kind}, ${when}${s.paused ? ' (paused)' : ''}`;
};

export async function overviewPage(o: { store: Store; user: User; csrf: string; error?: string; done?: string }) {
  const schedules = new ScheduleStore(o.store.db);
  const canAct = o.user.tokenInfo.role !== 'viewer';
  const orgs = await Promise.all(
    o.user.organizations.map(async ({ name }) => ({
      name,
      pause: await o.store.orgPauseState(name),
      stacks: await Promise.all((await listStacks(o.store.db, name)).map((ref) => stackRow(o.store, schedules, ref))),
    })),
  );
  return (
    <Layout title="Stacks" user={{ name: o.user.name, role: o.user.tokenInfo.role }} csrf={o.csrf}>
      <Notice error={o.error} done={o.done} />
      {orgs.length === 0 && <p>No organization has stacks yet: store deployment settings for a stack through the API.</p>}
      {orgs.map((org) => (
        <section aria-labelledby={`org-${org.name}`}>
          <div class="heading">
            <h1 id={`org-${org.name}`}>
              {org.name} {org.pause.paused && <span class="status status-paused">paused</span>}
            </h1>
            {canAct && (
              <Action
                action={`/orgs/${encodeURIComponent(org.name)}/${org.pause.paused ? 'resume' : 'pause'}`}
                label={org.pause.paused ? 'Resume organization' : 'Pause organization'}
                name={`${org.pause.paused ? 'Resume' : 'Pause'} every queue of ${org.name}`}
                csrf={o.csrf}
              />
            )}
          </div>
          <div class="table-wrap">
            <table>
              <caption>Stacks of {org.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Stack</th>
                  <th scope="col">Last deployment</th>
                  <th scope="col">Queue</th>
                  <th scope="col">Drift</th>
                  <th scope="col">Schedules and TTL</th>
                  <th scope="col">Runner pool</th>
                </tr>
              </thead>
              <tbody>
                {org.stacks.map((s) => (
                  <tr>
                    <td data-label="Stack">
                      <a href={stackPage(s.ref)}>
                        {s.ref.project}/{s.ref.stack}
                      </a>
                      {s.review && (
                        <div class="muted">
                          review stack of #{s.review.pullRequest} ({s.review.state})
                        </div>
                      )}
                    </td>
                    <td data-label="Last deployment">
                      {s.last ? (
                        <>
                          <a href={deploymentPage(s.ref, s.last.id)}>
                            #{s.last.version} {s.last.operation}
                          </a>{' '}
                          <Status status={s.last.status} />
                        </>
                      ) : (
                        <span class="muted">none</span>
                      )}
                    </td>
                    <td data-label="Queue">{s.paused ? <span class="status status-paused">paused</span> : 'running'}</td>
                    <td data-label="Drift">{s.drift}</td>
                    <td data-label="Schedules and TTL">
                      {s.schedules.length ? (
                        <ul class="plain">
                          {s.schedules.map((x) => (
                            <li>{describeSchedule(x)}</li>
                          ))}
                        </ul>
                      ) : (
                        <span class="muted">none</span>
                      )}
                    </td>
                    <td data-label="Runner pool">{s.agentPoolID ?? <span class="muted">default</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
    </Layout>
  );
}
