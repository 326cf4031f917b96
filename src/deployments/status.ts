import { TERMINAL, type DeploymentStatus } from '../shared/deployment';

/**
 * A deployment's status only moves forward: not-started → accepted → running → one final status
 * (failed, succeeded, skipped). A final status is never left.
 */
const RANK: Record<DeploymentStatus, number> = { 'not-started': 0, accepted: 1, running: 2, failed: 3, succeeded: 3, skipped: 3 };

export const isFinal = (s: DeploymentStatus): boolean => TERMINAL.includes(s);

/** Whether a deployment in `from` may move to `to`. */
export const canMove = (from: DeploymentStatus, to: DeploymentStatus): boolean => RANK[from] < RANK[to];

/** Every status a deployment may move to `to` from. */
export const movesTo = (to: DeploymentStatus): DeploymentStatus[] =>
  (Object.keys(RANK) as DeploymentStatus[]).filter((from) => canMove(from, to));

/** Statuses before a deployment's workflow runs it. */
export const WAITING: readonly DeploymentStatus[] = ['not-started', 'accepted'];
