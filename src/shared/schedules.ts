import { z } from 'zod';
import { CronExpressionParser } from 'cron-parser';
import { CreateDeploymentRequest } from './deployment';

/** raw: any operation on a cron or once; drift: detect-drift on a cron; ttl: destroy once at a deadline. */
export type ScheduleKind = 'raw' | 'drift' | 'ttl';

/** Empty strings (what some clients send for an option they were not given) and null mean "not set". */
const unset = (v: unknown) => (v === '' || v === null ? undefined : v);

/** Five fields (minute hour day-of-month month day-of-week), evaluated in UTC, as Pulumi Deployments takes them. */
export const ScheduleCron = z
  .string()
  .trim()
  .superRefine((s, ctx) => {
    if (s.split(/\s+/).length !== 5) {
      ctx.addIssue({ code: 'custom', message: 'expected a cron expression of 5 fields (minute hour day-of-month month day-of-week), evaluated in UTC' });
      return;
    }
    try {
      CronExpressionParser.parse(s, { tz: 'UTC' });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `invalid cron expression: ${(err as Error).message}` });
    }
  });

/** The next firing of a cron expression after `from`. */
export const nextCronTime = (cron: string, from: Date): Date => CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: from }).next().toDate();

// ISO 8601 with a zone, or the "YYYY-MM-DD HH:MM:SS[.fff]" (UTC) that schedules are answered with.
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;
const PULUMI_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/;

/** A point in time in the future, as an ISO string in UTC. */
export const FutureTime = z
  .string()
  .trim()
  .transform((s, ctx) => {
    const ms = ISO_WITH_ZONE.test(s) ? Date.parse(s) : PULUMI_TIME.test(s) ? Date.parse(`${s.replace(' ', 'T')}Z`) : NaN;
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'expected an ISO 8601 timestamp with a time zone, e.g. 2027-01-01T00:00:00Z' });
      return z.NEVER;
    }
    if (ms <= Date.now()) {
      ctx.addIssue({ code: 'custom', message: `${new Date(ms).toISOString()} is in the past` });
      return z.NEVER;
    }
    return new Date(ms).toISOString();
  });

/** POST .../deployments/schedules[/{id}]: exactly one of scheduleCron and scheduleOnce, and the deployment to request. */
export const CreateScheduleRequest = z
  .object({
    scheduleCron: z.preprocess(unset, ScheduleCron.optional()),
    scheduleOnce: z.preprocess(unset, FutureTime.optional()),
    request: CreateDeploymentRequest,
  })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.scheduleCron === undefined) === (r.scheduleOnce === undefined)) {
      const message = r.scheduleCron === undefined ? 'one of scheduleCron and scheduleOnce must be set' : 'only one of scheduleCron and scheduleOnce may be set';
      ctx.addIssue({ code: 'custom', path: ['scheduleCron'], message });
    }
  });
export type CreateScheduleRequest = z.infer<typeof CreateScheduleRequest>;

/** POST .../deployments/drift/schedules[/{id}]; an omitted autoRemediate is false. */
export const DriftScheduleRequest = z
  .object({
    scheduleCron: ScheduleCron,
    autoRemediate: z.boolean().nullish().transform((v) => v ?? false),
  })
  .strict();

/** POST .../deployments/ttl/schedules[/{id}]; an omitted deleteAfterDestroy is false. */
export const TtlScheduleRequest = z
  .object({
    timestamp: FutureTime,
    deleteAfterDestroy: z.boolean().nullish().transform((v) => v ?? false),
  })
  .strict();
