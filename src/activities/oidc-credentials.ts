import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OidcIssuer } from '../state/oidc-issuer';
import type { DeploymentInput } from '../shared/deployment';
import { goDurationSeconds, hasOidc, type OidcConfiguration } from '../shared/oidc';
import type { Masker } from './masker';
import { giveToSandbox } from './sandbox';

/** Where a deployment's token and credential files are: in its workspace, the one host directory its sandbox sees. */
export const oidcDir = (workspace: string): string => join(workspace, 'oidc');

export interface OidcCredentials {
  env: Record<string, string>;
  /** Stops renewing the token file (the step ended). */
  stop(): void;
}

/**
 * Mints the deployment's OIDC token on the worker (the signing key never reaches the sandbox) and
 * writes it, with the files each cloud's SDKs read, into the workspace. Returns the environment that
 * points the SDKs at them, as Pulumi Deployments' "Fetch provider credentials via OIDC" does, except
 * that the exchange for cloud credentials is left to the SDKs. Nothing when no cloud is configured.
 * While the step runs, the token file is renewed at half the token's lifetime: the SDKs read it
 * again whenever their cloud credentials expire.
 */
export async function oidcCredentials(
  issuer: OidcIssuer,
  input: DeploymentInput,
  config: OidcConfiguration | null | undefined,
  o: { workspace: string; masker: Masker; sandboxed: boolean },
): Promise<OidcCredentials> {
  if (!hasOidc(config)) return { env: {}, stop: () => undefined };
  const dir = oidcDir(o.workspace);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tokenFile = join(dir, 'token');
  const write = async () => {
    const { token } = await issuer.mint({ org: input.org, project: input.project, stack: input.stack, operation: input.operation, deploymentId: input.id, version: input.version });
    // Masked if a program prints it (the signature alone too: it is what makes the token usable).
    o.masker.add(token);
    o.masker.add(token.split('.')[2] ?? token);
    // Replaced whole (rename), so a reader never sees half a token.
    writeFileSync(`${tokenFile}.new`, token, { mode: 0o600 });
    renameSync(`${tokenFile}.new`, tokenFile);
    if (o.sandboxed) giveToSandbox(dir);
    return token;
  };
  const token = await write();
  const renew = setInterval(() => void write().catch(() => undefined), (issuer.tokenSeconds * 1000) / 2);
  renew.unref();
  const env: Record<string, string> = { PULUMI_DEPLOY_OIDC_CONFIG: JSON.stringify(config) };
  if (config.aws) {
    Object.assign(env, {
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: config.aws.roleArn,
      AWS_ROLE_SESSION_NAME: config.aws.sessionName,
    });
  }
  if (config.azure) {
    const { clientId, tenantId, subscriptionId } = config.azure;
    Object.assign(env, {
      // Azure Identity's WorkloadIdentityCredential (DefaultAzureCredential), the az CLI's federated login.
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: tenantId,
      AZURE_SUBSCRIPTION_ID: subscriptionId,
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      // Pulumi's azure-native and azure providers (and Terraform's azurerm).
      ARM_USE_OIDC: 'true',
      ARM_CLIENT_ID: clientId,
      ARM_TENANT_ID: tenantId,
      ARM_SUBSCRIPTION_ID: subscriptionId,
      ARM_OIDC_TOKEN_FILE_PATH: tokenFile,
      ARM_OIDC_TOKEN: token,
    });
  }
  if (config.gcp) {
    const file = join(dir, 'gcp-credentials.json');
    writeFileSync(file, `${JSON.stringify(gcpExternalAccount(config.gcp, tokenFile), null, 2)}\n`, { mode: 0o600 });
    Object.assign(env, {
      GOOGLE_APPLICATION_CREDENTIALS: file,
      CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE: file,
      ...(config.gcp.region ? { GOOGLE_REGION: config.gcp.region, CLOUDSDK_COMPUTE_REGION: config.gcp.region } : {}),
    });
  }
  if (o.sandboxed) giveToSandbox(dir);
  return { env, stop: () => clearInterval(renew) };
}

/** Google's external-account credential file: the STS exchange, then the service account's impersonation. */
export function gcpExternalAccount(gcp: NonNullable<OidcConfiguration['gcp']>, tokenFile: string) {
  return {
    type: 'external_account',
    audience: `//iam.googleapis.com/projects/${gcp.projectId}/locations/global/workloadIdentityPools/${gcp.workloadPoolId}/providers/${gcp.providerId}`,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: 'https://sts.googleapis.com/v1/token',
    service_account_impersonation_url: `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${gcp.serviceAccount}:generateAccessToken`,
    ...(gcp.tokenLifetime ? { service_account_impersonation: { token_lifetime_seconds: goDurationSeconds(gcp.tokenLifetime) } } : {}),
    credential_source: { file: tokenFile, format: { type: 'text' } },
  };
}
