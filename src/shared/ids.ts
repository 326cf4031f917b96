import type { StackRef } from './names';

/** Task queue for workflows and for activities any worker may run. */
export const DEFAULT_TASK_QUEUE = 'stackwright';

export const stackWorkflowId = (s: StackRef): string => `stack/${s.org}/${s.project}/${s.stack}`;
export const deploymentWorkflowId = (s: StackRef, version: number): string =>
  `deployment/${s.org}/${s.project}/${s.stack}/${version}`;
