import type { DeploymentInput, StepStatus } from '../shared/deployment';
import type { ResourceChanges } from '../shared/drift';
import type { StackRef } from '../shared/names';
import type { DeploymentSettings } from '../shared/settings';
import type { Store } from '../store/store';
import { sealedSettings } from '../deployments/create';
import { passphraseScheme, type PassphraseScheme } from '../store/stack-keys';
import { cacheGeneration, recordCacheLookup, type CacheLookup } from '../store/caches';

export type LogLine = { seq: number; ts: string; line: string };

/**
 * The store work of the activities that run next to a deployment's files (its steps): the store
 * itself on an ordinary worker, the pool gateway on a runner pool's worker, which reaches only
 * Temporal (see pool-gateway-client.ts).
 */
export interface WorkspaceStore {
  /** The deployment's settings, secrets still sealed. */
  sealedSettings(input: DeploymentInput): Promise<DeploymentSettings>;
  /** How the deployment's stack (or its review template's stack) derives its Pulumi passphrase. */
  passphraseScheme(input: DeploymentInput, of: 'stack' | 'template'): Promise<PassphraseScheme>;
  setStep(id: string, step: number, status: Extract<StepStatus, 'running' | 'succeeded' | 'failed'>): Promise<void>;
  countLogs(id: string, step: number): Promise<number>;
  appendLogs(id: string, step: number, lines: LogLine[]): Promise<void>;
  cacheGeneration(input: DeploymentInput): Promise<number>;
  recordCacheLookup(input: DeploymentInput, result: CacheLookup): Promise<void>;
  recordChanges(id: string, changes: ResourceChanges, driftDetected: boolean | null): Promise<void>;
  /** For a review stack, the stack whose config it starts from. */
  reviewTemplate(input: DeploymentInput): Promise<StackRef | undefined>;
  /** How long log lines are gathered per write (each write is a round trip). */
  readonly logWindowMs?: number;
}

/** The review stack's template, as a stack of the same project. */
export async function templateOf(store: Store, ref: StackRef): Promise<StackRef | undefined> {
  const review = await store.reviewStacks.get(ref);
  return review ? { org: review.org, project: review.project, stack: review.template } : undefined;
}

/** Today's store calls, for workers that reach the database. */
export function localWorkspaceStore(store: Store): WorkspaceStore {
  return {
    sealedSettings: (input) => sealedSettings(store, input),
    async passphraseScheme(input, of) {
      const ref = of === 'stack' ? input : await templateOf(store, input);
      if (!ref) throw new Error(`${input.org}/${input.project}/${input.stack} is not a review stack`);
      return passphraseScheme(store.db, ref);
    },
    setStep: (id, step, status) => store.setStep(id, step, status),
    countLogs: (id, step) => store.countLogs(id, step),
    appendLogs: (id, step, lines) => store.appendLogs(id, step, lines),
    cacheGeneration: (input) => cacheGeneration(store.db, input),
    recordCacheLookup: (_input, result) => recordCacheLookup(store.db, result),
    recordChanges: (id, changes, drift) => store.recordChanges(id, changes, drift),
    reviewTemplate: (input) => templateOf(store, input),
  };
}
