import { ServiceError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { DeploymentInput } from '../shared/deployment';
import type { StackRef } from '../shared/names';
import { POOL_STORE_UPDATE, type PoolGatewayInput, type PoolStoreRequest } from '../shared/pool-store';
import type { DeploymentSettings } from '../shared/settings';
import type { PassphraseScheme } from '../store/stack-keys';
import type { LogLine, WorkspaceStore } from './workspace-store';

/** One gateway per pool worker (its data directory's identity), on the main queue. */
export const poolGatewayWorkflowId = (pool: string, worker: string): string => `pool-gateway/${pool}/${worker}`;

/** Log lines per update stay well below Temporal's payload limit (2 MB). */
const MAX_BATCH_BYTES = 256 * 1024;
const ATTEMPTS = 5;

/**
 * The store of a runner pool's worker: every operation is an update of its gateway workflow, which
 * the main queue's workers carry out (src/workflows/pool-gateway.ts). Payloads go through the
 * client's codec, so settings stay encrypted in Temporal.
 */
export class PoolGatewayClient implements WorkspaceStore {
  /** Each write is an update in the gateway's history: lines are gathered for a second. */
  readonly logWindowMs = 1000;
  readonly workflowId: string;
  private started: Promise<unknown> | undefined;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly pool: string,
    worker: string,
  ) {
    this.workflowId = poolGatewayWorkflowId(pool, worker);
  }

  /** Sends one request; a gateway that ended (idle) or was between runs is started again. */
  async call<T>(req: PoolStoreRequest): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        await (this.started ??= this.start());
        return (await this.client.workflow.getHandle(this.workflowId).executeUpdate<unknown, [PoolStoreRequest]>(POOL_STORE_UPDATE, { args: [req] })) as T;
      } catch (err) {
        const closed = err instanceof WorkflowNotFoundError;
        if (!(closed || err instanceof ServiceError) || attempt >= ATTEMPTS) throw err;
        if (closed) this.started = undefined;
        else await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  private start(): Promise<unknown> {
    const input: PoolGatewayInput = { pool: this.pool };
    return this.client.workflow
      .start('poolGateway', { workflowId: this.workflowId, taskQueue: this.taskQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING' })
      .catch((err: unknown) => {
        this.started = undefined;
        throw err;
      });
  }

  private readonly of = (id: string) => ({ pool: this.pool, deploymentId: id });

  workerStarted(): Promise<void> {
    return this.call({ op: 'workerStarted', pool: this.pool });
  }

  /** For a restarted worker's leftover steps (reclaimSteps). */
  deploymentState(id: string): Promise<{ status: string; workflowId: string }> {
    return this.call({ op: 'deploymentState', ...this.of(id) });
  }

  async sealedSettings(input: DeploymentInput): Promise<DeploymentSettings> {
    return input.settings ?? this.call({ op: 'sealedSettings', ...this.of(input.id) });
  }

  passphraseScheme(input: DeploymentInput, of: 'stack' | 'template'): Promise<PassphraseScheme> {
    return this.call({ op: 'passphraseScheme', ...this.of(input.id), of });
  }

  setStep(id: string, step: number, status: 'running' | 'succeeded' | 'failed'): Promise<void> {
    return this.call({ op: 'setStep', ...this.of(id), step, status });
  }

  countLogs(id: string, step: number): Promise<number> {
    return this.call({ op: 'countLogs', ...this.of(id), step });
  }

  async appendLogs(id: string, step: number, lines: LogLine[]): Promise<void> {
    for (const batch of byteBatches(lines, MAX_BATCH_BYTES)) await this.call({ op: 'appendLogs', ...this.of(id), step, lines: batch });
  }

  cacheGeneration(input: DeploymentInput): Promise<number> {
    return this.call({ op: 'cacheGeneration', ...this.of(input.id) });
  }

  recordCacheLookup(input: DeploymentInput, result: 'hit' | 'miss'): Promise<void> {
    return this.call({ op: 'recordCacheLookup', ...this.of(input.id), result });
  }

  recordChanges(id: string, changes: Record<string, number>, driftDetected: boolean | null): Promise<void> {
    return this.call({ op: 'recordChanges', ...this.of(id), changes, driftDetected });
  }

  async reviewTemplate(input: DeploymentInput): Promise<StackRef | undefined> {
    return (await this.call<StackRef | null>({ op: 'reviewTemplate', ...this.of(input.id) })) ?? undefined;
  }
}

/** Consecutive runs of lines of at most `max` bytes each (a longer line goes alone). */
export function byteBatches(lines: LogLine[], max: number): LogLine[][] {
  const out: LogLine[][] = [];
  let cur: LogLine[] = [];
  let size = 0;
  for (const l of lines) {
    const n = Buffer.byteLength(l.line) + 64;
    if (cur.length && size + n > max) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(l);
    size += n;
  }
  if (cur.length) out.push(cur);
  return out;
}
