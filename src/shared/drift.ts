import { planOfInput, type DeploymentInput, type Operation } from './deployment';

/** Resource counts per operation kind, as Pulumi's change summary gives them ({ same: 1, update: 2 }). */
export type ResourceChanges = Record<string, number>;

export const DRIFT_OPERATIONS = ['detect-drift', 'remediate-drift'] as const satisfies readonly Operation[];

export const isDriftOperation = (op: Operation): boolean => (DRIFT_OPERATIONS as readonly Operation[]).includes(op);

/** A refresh that would change anything (update, delete, …) found the resources drifted from the state. */
export const hasDrift = (changes: ResourceChanges): boolean => Object.entries(changes).some(([op, n]) => op !== 'same' && n > 0);

/** "1 to update, 1 to delete" */
export const describeChanges = (changes: ResourceChanges): string =>
  Object.entries(changes)
    .filter(([op, n]) => op !== 'same' && n > 0)
    .map(([op, n]) => `${n} to ${op}`)
    .join(', ');

/** remediateIfDriftDetected: a detection that found drift asks for a remediate-drift deployment. */
export const remediationWanted = (input: Pick<DeploymentInput, 'operation' | 'plan' | 'settings'>, driftDetected: boolean | null | undefined): boolean =>
  input.operation === 'detect-drift' && driftDetected === true && planOfInput(input).options.remediateIfDriftDetected === true;
