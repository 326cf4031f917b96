import { TERMINAL, type DeploymentStatus } from '../shared/deployment';

/**
 * A deployment's status only moves forward: not-started → accepted → running → one final status
 * (failed, succeeded, skipped). A final status is never left. The one way back and forth is between
 * running and waiting-for-approval: the preview ran, then, once approved, the operation runs.
 */
const RANK: Record<DeploymentStatus, number> = { 'not-started': 0, accepted: 1, running: 2, 'waiting-for-approval': 2, failed: 3, succeeded: 3, skipped: 3 };

export const isFinal = (s: DeploymentStatus): boolean => TERMINAL.includes(s);

/** Whether a deployment in `from` may move to `to`. */
export const canMove = (from: DeploymentStatus, to: DeploymentStatus): boolean =>
  to === 'waiting-for-approval' ? from === 'running' : RANK[from] < RANK[to] || (from === 'waiting-for-approval' && to === 'running');

/** Every status a deployment may move to `to` from. */
export const movesTo = (to: DeploymentStatus): DeploymentStatus[] =>
  (Object.keys(RANK) as DeploymentStatus[]).filter((from) => canMove(from, to));

/** Statuses before a deployment's workflow runs it. */
export const WAITING: readonly DeploymentStatus[] = ['not-started', 'accepted'];

/** Statuses of a deployment its workflow holds: running, or waiting for approval. */
export const ACTIVE: readonly DeploymentStatus[] = ['running', 'waiting-for-approval'];
