import type { z } from 'zod';

/**
 * Fields of Pulumi's settings schema that Stackwright knows but cannot honour. A request that sets
 * one is refused with a 400 naming it, never stored and ignored. Empty values (as Pulumi's CLI
 * sends for flags it was not given) are "not set" and pass.
 */
const UNSUPPORTED: { path: string[]; why: string }[] = [
  { path: ['executorContext', 'executorImage'], why: 'deployments run on Stackwright workers, not in executor images' },
  { path: ['executorContext', 'executorRootPath'], why: 'deployments run on Stackwright workers, which have no executor root path' },
  { path: ['executorContext', 'workingDirectory'], why: 'each deployment works in its own directory; use sourceContext.git.repoDir for the program folder' },
  { path: ['operationContext', 'role'], why: 'deployment roles are not available' },
  { path: ['operationContext', 'options', 'deleteAfterDestroy'], why: 'removing a stack after destroy is not available yet' },
];

const isSet = (v: unknown): boolean =>
  v !== undefined && v !== null && v !== '' && v !== false && !(typeof v === 'object' && Object.values(v as object).every((x) => !isSet(x)));

/** zod superRefine: one issue per unsupported field that is set. */
export function refuseUnsupported(value: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const { path, why } of UNSUPPORTED) {
    const v = path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), value);
    if (isSet(v)) ctx.addIssue({ code: 'custom', path, message: `not supported by Stackwright: ${why}` });
  }
}
