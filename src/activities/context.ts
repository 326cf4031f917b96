import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../store/store';
import type { SecretBox } from '../secret-box';
import { openSecrets, isSealed } from '../shared/secrets';
import type { DeploymentInput } from '../shared/deployment';
import type { DeploymentSettings } from '../shared/settings';
import { stateBackendUrl } from '../state/backend-url';
import { Masker } from './masker';
import type { ReportConfig } from './report';

export interface ActivityDeps {
  store: Store;
  box: SecretBox;
  dataDir: string;
  pulumiRoot: string;
  /** Set when the operator chose a backend; otherwise a file backend per organization. */
  pulumiBackendUrl?: string;
  pulumiPassphrase: string;
  /** Base URL of the API, for PULUMI_CI_BUILD_URL. */
  publicUrl: string;
  /** The shared task queue of workflows, for deployments a step queues. */
  taskQueue: string;
  /** This worker's own task queue: every step of a deployment runs where its files are. */
  sessionQueue: string;
  /** Grace between asking a step to stop and killing it. */
  killGraceMs: number;
  /** Pulumi is stopped when its engine reports no event for this long. */
  pulumiIdleTimeoutMs: number;
  /** Pulumi is stopped when an operation runs longer than this. */
  pulumiMaxDurationMs: number;
  /** After recovery, run an interrupted deployment once more as a new deployment (default: no). */
  retryInterrupted?: boolean;
  /** Where git-triggered deployments report their results. */
  report?: ReportConfig;
}

/** Everything a step needs, with secrets opened: lives only inside the activity. */
export interface OpenDeployment {
  input: DeploymentInput;
  settings: DeploymentSettings;
  workspace: string;
  sourceDir: string;
  programDir: string;
  masker: Masker;
  env: Record<string, string>;
}

export const workspaceDir = (deps: ActivityDeps, id: string): string => join(deps.dataDir, 'work', id);

export const backendUrl = (deps: ActivityDeps, org: string): string => stateBackendUrl(deps.dataDir, deps.pulumiBackendUrl, org);

export function openDeployment(deps: ActivityDeps, input: DeploymentInput): OpenDeployment {
  const settings = openSecrets(input.settings, deps.box.decrypt);
  const workspace = workspaceDir(deps, input.id);
  const sourceDir = join(workspace, 'source');
  const programDir = join(sourceDir, settings.sourceContext?.git?.repoDir ?? '');
  const userEnv = (settings.operationContext?.environmentVariables ?? {}) as Record<string, string>;
  const masker = new Masker([...secretsOf(input.settings, deps), deps.pulumiPassphrase]);
  const env: Record<string, string> = {
    PATH: `${join(deps.pulumiRoot, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME ?? workspace,
    LANG: process.env.LANG ?? 'C.UTF-8',
    PULUMI_HOME: join(deps.dataDir, 'pulumi-home'),
    PULUMI_BACKEND_URL: backendUrl(deps, input.org),
    PULUMI_CONFIG_PASSPHRASE: deps.pulumiPassphrase,
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    ...userEnv,
    ...loadPulumiEnv(workspace, programDir),
    PULUMI_ENV: join(workspace, 'PULUMI_ENV'),
    PULUMI_CI_SYSTEM: 'Stackwright',
    PULUMI_CI_BUILD_ID: input.id,
    PULUMI_CI_BUILD_NUMBER: String(input.version),
    PULUMI_CI_BUILD_URL: `${deps.publicUrl}/api/stacks/${input.org}/${input.project}/${input.stack}/deployments/${input.id}`,
    PULUMI_CI_ORGANIZATION: input.org,
    PULUMI_CI_PROJECT: input.project,
    PULUMI_CI_STACK: input.stack,
    PULUMI_CI_OPERATION: input.operation,
  };
  return { input, settings, workspace, sourceDir, programDir, masker, env };
}

/** Plain values of every sealed field: environment secrets and git credentials. */
function secretsOf(sealed: DeploymentSettings, deps: ActivityDeps): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (isSealed(v)) out.push(deps.box.decrypt(v.ciphertext));
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(sealed);
  return out;
}

/**
 * Pre-run commands export variables to later steps by writing NAME=value lines to PULUMI_ENV,
 * either the file the variable names or a PULUMI_ENV file in the program directory.
 */
export function loadPulumiEnv(workspace: string, programDir: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const file of [join(workspace, 'PULUMI_ENV'), join(programDir, 'PULUMI_ENV')]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
      const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      if (m) vars[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
    }
  }
  return vars;
}

export const pulumiEnvFiles = (o: OpenDeployment): string[] =>
  [join(o.workspace, 'PULUMI_ENV'), join(o.programDir, 'PULUMI_ENV')].filter((f) => existsSync(f));
