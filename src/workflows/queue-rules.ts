import { planOfInput, type DeploymentInput } from '../shared/deployment';

/** Queued deployments not started within this time are skipped (as Pulumi Deployments does). */
export const QUEUE_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

export interface Skip {
  input: DeploymentInput;
  message: string;
}

/**
 * skipIntermediateDeployments: when a deployment finishes, every queued deployment of the same
 * operation except the newest is skipped. Only same-operation deployments are consolidated, and
 * the newest one's settings decide (they reflect the stack's current settings).
 */
export function intermediates(pending: readonly DeploymentInput[]): Skip[] {
  const skips: Skip[] = [];
  const newest = new Map<string, DeploymentInput>();
  for (const d of pending) newest.set(d.operation, d);
  for (const d of pending) {
    const latest = newest.get(d.operation)!;
    if (d !== latest && planOfInput(latest).options.skipIntermediateDeployments) {
      skips.push({ input: d, message: `Skipped: a newer ${d.operation} (version ${latest.version}) was queued.` });
    }
  }
  return skips;
}

/** Queued deployments older than the queue's maximum age at `now`. */
export function expired(pending: readonly DeploymentInput[], now: number): Skip[] {
  return pending
    .filter((d) => d.requestedAt !== undefined && now - d.requestedAt >= QUEUE_MAX_AGE_MS)
    .map((d) => ({ input: d, message: 'Skipped: not started within 7 days of being queued.' }));
}

/** Milliseconds until the oldest queued deployment expires (undefined when none can). */
export function untilNextExpiry(pending: readonly DeploymentInput[], now: number): number | undefined {
  const times = pending.filter((d) => d.requestedAt !== undefined).map((d) => d.requestedAt! + QUEUE_MAX_AGE_MS - now);
  return times.length ? Math.max(0, Math.min(...times)) : undefined;
}

/** Queued deployments a newer one with the same supersede key replaces. */
export function superseded(pending: readonly DeploymentInput[], newer: DeploymentInput): Skip[] {
  if (!newer.supersedeKey) return [];
  return pending
    .filter((d) => d.id !== newer.id && d.supersedeKey === newer.supersedeKey)
    .map((d) => ({ input: d, message: supersededMessage(newer) }));
}

export const supersededMessage = (newer: DeploymentInput): string => `Superseded by deployment ${newer.version}.`;
