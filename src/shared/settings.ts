import { z } from 'zod';
import { OidcConfiguration } from './oidc';
import { SecretInput, type StoredValue } from './secrets';
import { refuseUnsupported } from './unsupported-settings';
import { RequireApproval } from './approval';
import { PoolName } from './pools';

// Field names follow Pulumi Deployments' settings. Every optional field is nullish because a
// settings patch removes a key by sending null (see merge.ts).

const relativePath = z
  .string()
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a relative path inside the repository');
const notAnOption = (what: string) => z.string().min(1).refine((s) => !s.startsWith('-'), `${what} must not start with '-'`);

export const GitAuth = z
  .object({
    accessToken: SecretInput.nullish(),
    basicAuth: z.object({ userName: SecretInput, password: SecretInput }).strict().nullish(),
    sshAuth: z.object({ sshPrivateKey: SecretInput, password: SecretInput.nullish() }).strict().nullish(),
  })
  .strict();

export const GitSource = z
  .object({
    repoURL: notAnOption('repoURL').nullish(),
    branch: notAnOption('branch').nullish(),
    commit: z.string().regex(/^[0-9a-fA-F]{4,64}$/, 'commit must be a hexadecimal commit id').nullish(),
    repoDir: relativePath.nullish(),
    gitAuth: GitAuth.nullish(),
  })
  .strict();

export const EnvVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _');

export const OperationOptions = z
  .object({
    skipInstallDependencies: z.boolean().nullish(),
    skipIntermediateDeployments: z.boolean().nullish(),
    deleteAfterDestroy: z.boolean().nullish(),
    remediateIfDriftDetected: z.boolean().nullish(),
    shell: z.string().nullish(),
    // A Stackwright extension: update, destroy and remediate-drift wait for approval (shared/approval.ts).
    requireApproval: RequireApproval.nullish(),
  })
  .strict();

export const OperationContext = z
  .object({
    preRunCommands: z.array(z.string().min(1)).max(50).nullish(),
    environmentVariables: z.record(EnvVarName, SecretInput.nullable()).nullish(),
    options: OperationOptions.nullish(),
    // Pulumi's CLI always sends it (empty); only a create request may name its own operation.
    operation: z.string().nullish(),
    oidc: OidcConfiguration.nullish(),
    // Known so that a request setting it is refused by name (unsupported-settings.ts).
    role: z.record(z.string(), z.unknown()).nullish(),
  })
  .strict();

const vcsFields = {
  repository: z.string().nullish(),
  deployCommits: z.boolean().nullish(),
  previewPullRequests: z.boolean().nullish(),
  pullRequestTemplate: z.boolean().nullish(),
  deployTags: z.boolean().nullish(),
  paths: z.array(z.string()).nullish(),
  tagFilters: z.array(z.string()).nullish(),
  installationId: z.string().nullish(),
  deployPullRequest: z.number().int().nullish(),
  reviewStackLabels: z.array(z.string()).nullish(),
  // Stackwright's own: how long a review stack of this template lives after its pull request's last push.
  reviewStackTtlHours: z.number().int().min(1).max(24 * 365).nullish(),
};
export const GitHubSettings = z.object(vcsFields).strict();
export const VcsSettings = z
  .object({ provider: z.enum(['github', 'gitlab', 'azure_devops', 'bitbucket', 'custom']), ...vcsFields })
  .strict();

export const ExecutorContext = z
  .object({
    executorImage: z
      .union([
        z.string(),
        z
          .object({
            reference: z.string(),
            credentials: z.object({ username: z.string(), password: SecretInput }).strict().nullish(),
          })
          .strict(),
      ])
      .nullish(),
    executorRootPath: z.string().nullish(),
    workingDirectory: z.string().nullish(),
  })
  .strict();

export const settingsFields = {
  sourceContext: z.object({ git: GitSource.nullish() }).strict().nullish(),
  operationContext: OperationContext.nullish(),
  executorContext: ExecutorContext.nullish(),
  gitHub: GitHubSettings.nullish(),
  vcs: VcsSettings.nullish(),
  cacheOptions: z.object({ enable: z.boolean().nullish() }).strict().nullish(),
  agentPoolID: PoolName.nullish(),
  tag: z.string().nullish(),
};

// Strings Pulumi's CLI sends empty for a flag it was not given: an empty one is not set (dropped).
const EMPTY_MEANS_UNSET = [
  ['sourceContext', 'git', 'repoURL'],
  ['sourceContext', 'git', 'branch'],
  ['sourceContext', 'git', 'commit'],
  ['sourceContext', 'git', 'repoDir'],
  ['executorContext', 'workingDirectory'],
  ['executorContext', 'executorImage'],
  ['executorContext', 'executorRootPath'],
  ['operationContext', 'operation'],
  ['operationContext', 'options', 'shell'],
  ['agentPoolID'],
];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Accepts Pulumi's spellings (`repoUrl`, `agentPoolId`), drops the empty strings the CLI sends for
 * unset flags (Go's zero values: not set), and drops read-only fields echoed back from a GET.
 */
export function normalizeSettingsInput(input: unknown): unknown {
  if (!isRecord(input)) return input;
  const { version: _v, source: _s, agentPoolId, ...rest } = input;
  const out: Record<string, unknown> = structuredClone(rest);
  if (agentPoolId !== undefined && out.agentPoolID === undefined) out.agentPoolID = agentPoolId;
  const git = isRecord(out.sourceContext) ? out.sourceContext.git : undefined;
  if (isRecord(git) && 'repoUrl' in git) {
    const { repoUrl, ...g } = git;
    (out.sourceContext as Record<string, unknown>).git = { repoURL: repoUrl, ...g };
  }
  for (const path of EMPTY_MEANS_UNSET) {
    const parent = path.slice(0, -1).reduce<unknown>((o, k) => (isRecord(o) ? o[k] : undefined), out);
    const key = path[path.length - 1];
    if (isRecord(parent) && parent[key] === '') delete parent[key];
  }
  return out;
}

/** Deployment settings as a request sends them (null removes a key in a patch). */
export const DeploymentSettingsInput = z.preprocess(
  normalizeSettingsInput,
  z
    .object(settingsFields)
    .strict()
    .superRefine((s, ctx) => {
      refuseUnsupported(s, ctx);
      if (s.operationContext?.operation) {
        ctx.addIssue({ code: 'custom', path: ['operationContext', 'operation'], message: 'settings serve every operation; name the operation when creating a deployment' });
      }
    }),
);
export type DeploymentSettingsInput = z.infer<typeof DeploymentSettingsInput>;

/** Settings as stored: no nulls, secrets sealed. */
export interface DeploymentSettings {
  sourceContext?: {
    git?: {
      repoURL?: string;
      branch?: string;
      commit?: string;
      repoDir?: string;
      gitAuth?: {
        accessToken?: StoredValue;
        basicAuth?: { userName: StoredValue; password: StoredValue };
        sshAuth?: { sshPrivateKey: StoredValue; password?: StoredValue };
      };
    };
  };
  operationContext?: {
    preRunCommands?: string[];
    environmentVariables?: Record<string, StoredValue>;
    options?: { skipInstallDependencies?: boolean; skipIntermediateDeployments?: boolean; deleteAfterDestroy?: boolean; remediateIfDriftDetected?: boolean; shell?: string; requireApproval?: RequireApproval };
    oidc?: OidcConfiguration | null;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface Issue {
  path: (string | number)[];
  message: string;
}

/** What a deployment needs beyond a well-formed settings object. */
export function runnableIssues(s: DeploymentSettings): Issue[] {
  const git = s.sourceContext?.git;
  const issues: Issue[] = [];
  if (!git?.repoURL) issues.push({ path: ['sourceContext', 'git', 'repoURL'], message: 'a git repository URL is required' });
  if (git?.branch && git.commit) {
    issues.push({ path: ['sourceContext', 'git', 'commit'], message: 'branch and commit are mutually exclusive' });
  }
  const auth = git?.gitAuth;
  if (auth && Object.keys(auth).length > 1) {
    issues.push({ path: ['sourceContext', 'git', 'gitAuth'], message: 'only one of accessToken, basicAuth and sshAuth may be set' });
  }
  return issues;
}
