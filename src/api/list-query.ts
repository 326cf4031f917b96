import { z } from 'zod';
import { DeploymentStatus } from '../shared/deployment';
import { PageQuery } from './paging';

const boolParam = z.enum(['true', 'false']).transform((v) => v === 'true');

/** Query of the deployment lists (stack and organization): paging, order and a status filter. */
export const ListQuery = PageQuery.extend({
  asc: boolParam.default(false),
  // One status, or several separated by commas.
  status: z
    .string()
    .transform((s, ctx) => {
      const values = s.split(',').map((v) => v.trim());
      const unknown = values.filter((v) => !DeploymentStatus.safeParse(v).success);
      if (unknown.length === 0) return values as DeploymentStatus[];
      ctx.addIssue({ code: 'custom', message: `unknown status ${unknown.map((v) => `'${v}'`).join(', ')}; expected ${DeploymentStatus.options.join(', ')}` });
      return z.NEVER;
    })
    .optional(),
});
