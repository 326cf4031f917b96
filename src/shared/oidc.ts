import { z } from 'zod';

// Go's duration syntax, as Pulumi's settings write it ("1h", "1h30m0s", "900s").
const GO_DURATION = /^(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Seconds of a Go duration string ("1h30m" → 5400). */
export function goDurationSeconds(s: string): number {
  const m = GO_DURATION.exec(s);
  if (!m) throw new TypeError(`not a duration: ${s}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

const notHonoured = (why: string) =>
  z.unknown().refine((v) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0), `not supported by Stackwright: ${why}`);

/** Pulumi's AWSOIDCConfiguration: the SDKs assume the role themselves with the token file. */
export const AwsOidc = z
  .object({
    roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN, arn:aws:iam::<account id>:role/<name>'),
    sessionName: z.string().regex(/^[\w+=,.@-]{2,64}$/, 'must be 2 to 64 letters, digits or +=,.@_-'),
    duration: notHonoured('the AWS SDKs assume the role from AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, which carry no session duration; set it in the program (e.g. the provider\'s assumeRoleWithWebIdentity.duration)').optional(),
    policyArns: notHonoured('the AWS SDKs assume the role from AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, which carry no session policies; set them in the program (e.g. the provider\'s assumeRoleWithWebIdentity.policyArns)').optional(),
  })
  .strict();

const uuid = (what: string) => z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, `must be the ${what} (a GUID)`);

/** Pulumi's AzureOIDCConfiguration: a Microsoft Entra application with a federated credential. */
export const AzureOidc = z
  .object({
    clientId: uuid('application (client) ID'),
    tenantId: uuid('directory (tenant) ID'),
    subscriptionId: uuid('subscription ID'),
  })
  .strict();

/** Pulumi's GCPOIDCConfiguration: a workload identity pool provider and the service account it may impersonate. */
export const GcpOidc = z
  .object({
    projectId: z.string().regex(/^\d{1,20}$/, 'must be the numerical project number'),
    region: z.string().regex(/^[a-z]+(?:-[a-z0-9]+)+$/, 'must be a region such as europe-west1').nullish(),
    workloadPoolId: z.string().regex(/^[a-z0-9-]{4,32}$/, 'must be a workload identity pool ID'),
    providerId: z.string().regex(/^[a-z0-9-]{4,32}$/, 'must be a workload identity pool provider ID'),
    serviceAccount: z.string().regex(/^[^@\s]+@[^@\s]+\.iam\.gserviceaccount\.com$/, 'must be a service account email (…@<project>.iam.gserviceaccount.com)'),
    tokenLifetime: z
      .string()
      .regex(GO_DURATION, 'expected a duration such as "1h" or "45m0s"')
      .refine((s) => !GO_DURATION.test(s) || (goDurationSeconds(s) >= 600 && goDurationSeconds(s) <= 43_200), 'must be between 10m and 12h')
      .nullish(),
  })
  .strict();

/** operationContext.oidc: one block per cloud a deployment gets a token for. */
export const OidcConfiguration = z
  .object({ aws: AwsOidc.nullish(), azure: AzureOidc.nullish(), gcp: GcpOidc.nullish() })
  .strict();
export type OidcConfiguration = z.infer<typeof OidcConfiguration>;

/** The token's subject, as Pulumi Deployments writes it. */
export const oidcSubject = (d: { org: string; project: string; stack: string; operation: string }): string =>
  `pulumi:deploy:org:${d.org}:project:${d.project}:stack:${d.stack}:operation:${d.operation}:scope:write`;

/** Whether any cloud is configured (Pulumi's CLI sends empty blocks for clouds it was not given). */
export const hasOidc = (c: OidcConfiguration | null | undefined): c is OidcConfiguration => !!(c && (c.aws || c.azure || c.gcp));
