import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { temporal } from '@temporalio/proto';
import { OrgName } from '../../shared/names';
import { poolQueue } from '../../shared/pools';
import { ACTIVE, WAITING } from '../../deployments/status';
import { listRunnerPools } from '../../store/runner-pools';
import { onInvalid } from '../errors';
import type { ApiDeps } from '../deps';

/** Temporal forgets a poller about 5 minutes after its last poll; a worker polls every minute at least. */
const ONLINE_WITHIN_MS = 2 * 60_000;

const seconds = (iso: string | number | null | undefined) => (iso == null ? null : Math.floor(new Date(iso).getTime() / 1000));

/**
 * GET /api/orgs/{org}/agent-pools: Pulumi's ListAgentPoolsResponse. A pool exists once a worker
 * started with STACKWRIGHT_POOL=<name> ran (or a deployment names it); its id is its name.
 * Stackwright adds the workers Temporal saw polling the pool's queue and the organization's
 * deployments the pool runs or that wait for it.
 */
export function agentPoolRoutes(deps: ApiDeps) {
  return new Hono().get('/', zValidator('param', z.object({ org: OrgName }), onInvalid()), async (c) => {
    const { org } = c.req.valid('param');
    const recorded = await listRunnerPools(deps.store.db);
    const open = (await deps.store.listByStatus([...WAITING, ...ACTIVE], 1000)).filter((d) => d.org === org && d.settings.agentPoolID);
    const names = [...new Set([...recorded.map((p) => p.name), ...open.map((d) => d.settings.agentPoolID as string)])].sort();
    const agentPools = await Promise.all(
      names.map(async (name) => {
        const record = recorded.find((p) => p.name === name);
        const workers = await pollers(deps, name);
        const lastPoll = workers.reduce<number | null>((m, w) => (w.lastPoll !== null && (m === null || w.lastPoll > m) ? w.lastPoll : m), null);
        const mine = open.filter((d) => d.settings.agentPoolID === name);
        const view = (d: (typeof mine)[number]) => ({ id: d.id, projectName: d.project, stackName: d.stack, version: d.version, status: d.status });
        return {
          created: seconds(record?.created) ?? 0,
          id: name,
          name,
          description: record ? `Stackwright workers started with STACKWRIGHT_POOL=${name}` : 'no worker of this pool has started yet',
          lastSeen: lastPoll === null ? 0 : Math.floor(lastPoll / 1000),
          status: lastPoll !== null && Date.now() - lastPoll < ONLINE_WITHIN_MS ? 'online' : 'offline',
          isDefault: false,
          workers: workers.map((w) => ({ identity: w.identity, lastPoll: w.lastPoll === null ? null : new Date(w.lastPoll).toISOString() })),
          runningDeployments: mine.filter((d) => ACTIVE.includes(d.status)).map(view),
          waitingDeployments: mine.filter((d) => WAITING.includes(d.status)).map(view),
        };
      }),
    );
    return c.json({ agentPools });
  });
}

/** The workers polling a pool's queue, as Temporal's DescribeTaskQueue reports them. */
async function pollers(deps: ApiDeps, pool: string): Promise<{ identity: string; lastPoll: number | null }[]> {
  const { TaskQueueType, TaskQueueKind } = temporal.api.enums.v1;
  const res = await deps.temporal.workflowService.describeTaskQueue({
    namespace: deps.namespace,
    taskQueue: { name: poolQueue(deps.taskQueue, pool), kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (res.pollers ?? []).map((p) => {
    const t = p.lastAccessTime;
    return { identity: p.identity ?? '', lastPoll: t?.seconds != null ? Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : null };
  });
}
