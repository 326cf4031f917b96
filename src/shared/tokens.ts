import { z } from 'zod';
import { OrgName } from './names';
import { Role } from './identity';

// Token names are what audit entries and deployments' requestedBy show.
export const TokenName = z
  .string()
  .min(1, 'token name is required')
  .max(64, 'token name is at most 64 characters')
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9 ._@-]*[A-Za-z0-9._@-])?$/,
    "token name may contain only letters, digits, spaces, '.', '_', '@' and '-', must start with a letter or digit and may not end with a space",
  );

/** Body of POST /api/tokens. A missing or null organization: every organization; a missing or null expiresAt: never. */
export const CreateTokenRequest = z
  .object({
    name: TokenName,
    role: Role,
    organization: OrgName.nullish(),
    expiresAt: z.iso
      .datetime({ offset: true, error: 'expected an ISO 8601 date and time, e.g. 2030-01-31T12:00:00Z' })
      .refine((t) => Date.parse(t) > Date.now(), 'must be in the future')
      .nullish(),
  })
  .strict();
export type CreateTokenRequest = z.infer<typeof CreateTokenRequest>;
