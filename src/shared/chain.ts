import type { DependentCondition } from './hooks';

// Dependent stacks of one organization form a DAG; stacks are named `project/stack` in it.

export interface DependentEdge {
  from: string;
  to: string;
  when: DependentCondition;
}

/** A cycle the edges (plus `added`) contain through `added`, as the path of stacks, first repeated last. */
export function findCycle(edges: DependentEdge[], added: { from: string; to: string }): string[] | undefined {
  const next = new Map<string, string[]>();
  for (const e of [...edges, added]) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  // A path from `added.to` back to `added.from` closes a cycle.
  const seen = new Set<string>();
  const walk = (at: string, path: string[]): string[] | undefined => {
    if (at === added.from) return path;
    if (seen.has(at)) return undefined;
    seen.add(at);
    for (const n of next.get(at) ?? []) {
      const found = walk(n, [...path, n]);
      if (found) return found;
    }
    return undefined;
  };
  const path = walk(added.to, [added.to]);
  return path && [added.from, ...path];
}

export interface ChainStep {
  project: string;
  stack: string;
  /** Its upstreams inside the chain, each with the condition of its edge. */
  upstreams: { key: string; when: DependentCondition }[];
}

/**
 * Everything downstream of `root`, in waves: a stack comes one wave after the last of its upstreams,
 * so independent stacks share a wave and a stack runs after all of its upstreams in the chain.
 */
export function chainWaves(root: string, edges: DependentEdge[]): ChainStep[][] {
  const reach = new Set<string>();
  const visit = (k: string) => {
    for (const e of edges) {
      if (e.from !== k || reach.has(e.to)) continue;
      reach.add(e.to);
      visit(e.to);
    }
  };
  visit(root);
  reach.delete(root);
  const level = new Map<string, number>();
  const depth = (k: string, guard: number): number => {
    if (k === root) return 0;
    if (level.has(k)) return level.get(k)!;
    if (guard > reach.size + 1) throw new Error(`the dependents of ${root} form a cycle`);
    const ups = edges.filter((e) => e.to === k && (e.from === root || reach.has(e.from)));
    const d = 1 + Math.max(...ups.map((e) => depth(e.from, guard + 1)));
    level.set(k, d);
    return d;
  };
  const waves: ChainStep[][] = [];
  for (const k of [...reach].sort()) {
    const d = depth(k, 0);
    const [project, stack] = k.split('/');
    const upstreams = edges.filter((e) => e.to === k && (e.from === root || reach.has(e.from))).map((e) => ({ key: e.from, when: e.when }));
    (waves[d - 1] ??= []).push({ project, stack, upstreams });
  }
  return waves.filter(Boolean);
}

/** The chain workflow's input: the update that started it. */
export interface ChainInput {
  org: string;
  project: string;
  stack: string;
  deploymentId: string;
  version: number;
}

/** One link: a dependent stack's deployment, started by the chain. */
export interface ChainLinkInput {
  chainId: string;
  org: string;
  project: string;
  stack: string;
  /** The deployments of its upstreams in this chain (the first wave's is the root update). */
  upstreams: { stack: string; deploymentId: string; version: number }[];
  root: ChainInput;
}

export type LinkStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface ChainLinkState {
  project: string;
  stack: string;
  wave: number;
  status: LinkStatus;
  deploymentId?: string;
  version?: number;
  message?: string;
}

export interface ChainState {
  status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  links: ChainLinkState[];
}

export const chainWorkflowId = (org: string, rootDeploymentId: string): string => `chain/${org}/${rootDeploymentId}`;
