import { z } from 'zod';

// Names travel into file paths, workflow IDs and Pulumi commands: keep them to a safe alphabet.
const name = (what: string, max: number) =>
  z
    .string()
    .min(1, `${what} name is required`)
    .max(max, `${what} name is at most ${max} characters`)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, `${what} name may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit`);

export const OrgName = name('organization', 40);
export const ProjectName = name('project', 100);
export const StackName = name('stack', 100);

export const StackRef = z.object({ org: OrgName, project: ProjectName, stack: StackName });
export type StackRef = z.infer<typeof StackRef>;

export const stackKey = (s: StackRef): string => `${s.org}/${s.project}/${s.stack}`;
