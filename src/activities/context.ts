import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Store } from '../store/store';
import type { HookSettings } from '../deployments/hook-events';
import type { SecretBox } from '../secret-box';
import { openSecrets, isSealed } from '../shared/secrets';
import type { DeploymentInput } from '../shared/deployment';
import type { DeploymentSettings } from '../shared/settings';
import { Masker } from './masker';
import type { ReportConfig } from './report';
import { COMPILE_CACHE_ALIAS, writeSandboxSpec, type SandboxOptions } from './sandbox';
import { moveLegacyState, passphraseFor, stackStateDir } from './stack-state';
import type { OidcIssuer } from '../state/oidc-issuer';
import { hasOidc } from '../shared/oidc';
import { oidcCredentials } from './oidc-credentials';
import type { DependencyCache } from './dependency-cache';
import { packageCacheEnv, type PackageCaches } from './package-caches';
import { localWorkspaceStore, type WorkspaceStore } from './workspace-store';
import { compileCacheDir, prepareCompileCache } from './compile-cache';

export interface ActivityDeps {
  store: Store;
  box: SecretBox;
  dataDir: string;
  pulumiRoot: string;
  /** Set when the operator chose a backend; otherwise a file backend per organization. */
  pulumiBackendUrl?: string;
  /** The passphrase of stacks older than per-stack passphrases. */
  pulumiPassphrase: string;
  /** Master key: per-stack passphrases are derived from it. */
  secretsKey: Buffer;
  /** Where and how deployments' processes are isolated; undefined with STACKWRIGHT_SANDBOX=off. */
  sandbox?: SandboxOptions;
  /** file:// and local repository paths may be fetched (STACKWRIGHT_ALLOW_LOCAL_REPOS). */
  allowLocalRepos?: boolean;
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
  /** Starts hook deliveries, chains and the deployments they queue; hook events are not published without it. */
  temporal?: Client;
  hooks?: HookSettings;
  /** Where git-triggered deployments report their results. */
  report?: ReportConfig;
  /** Signs deployments' OIDC tokens (operationContext.oidc); without it such a deployment fails. */
  oidc?: OidcIssuer;
  /** Installed node_modules kept between deployments (cacheOptions.enable); none when unset. */
  dependencyCache?: DependencyCache;
  /** npm, yarn and pnpm download caches shared by deployments. */
  packageCaches?: PackageCaches;
}

/** What the activities next to a deployment's files need: their store work goes through `workspaceStore`. */
export type WorkspaceDeps = Omit<ActivityDeps, 'store'> & { workspaceStore: WorkspaceStore };

/** An ordinary worker's deps, with its own store doing the workspace's store work. */
export const workspaceDeps = (deps: ActivityDeps | WorkspaceDeps): WorkspaceDeps =>
  'workspaceStore' in deps ? deps : { ...deps, workspaceStore: localWorkspaceStore(deps.store) };

/** Everything a step needs, with secrets opened: lives only inside the activity. */
export interface OpenDeployment {
  input: DeploymentInput;
  settings: DeploymentSettings;
  workspace: string;
  sourceDir: string;
  programDir: string;
  masker: Masker;
  env: Record<string, string>;
  /** The stack's own file-backend directory (undefined with an operator-chosen backend). */
  stateDir?: string;
  /** Files the sandbox needs outside it: its spec, the pulumi shim. */
  runDir: string;
  /** The sandbox description for this step; undefined when sandboxing is off. */
  sandboxSpec?: string;
  /** Ends what the step holds open (the OIDC token's renewal). */
  close?: () => void;
}

export const workspaceDir = (deps: Pick<ActivityDeps, 'dataDir'>, id: string): string => join(deps.dataDir, 'work', id);

export const sandboxRunDir = (deps: Pick<ActivityDeps, 'dataDir'>, id: string): string => join(deps.dataDir, 'sandbox', id);

export async function openDeployment(deps: WorkspaceDeps, input: DeploymentInput, opts: { credentials?: boolean } = {}): Promise<OpenDeployment> {
  const sealed = await deps.workspaceStore.sealedSettings(input);
  const settings = openSecrets(sealed, deps.box.decrypt);
  const workspace = workspaceDir(deps, input.id);
  const sourceDir = join(workspace, 'source');
  const programDir = join(sourceDir, settings.sourceContext?.git?.repoDir ?? '');
  const userEnv = (settings.operationContext?.environmentVariables ?? {}) as Record<string, string>;
  const passphrase = passphraseFor(await deps.workspaceStore.passphraseScheme(input, 'stack'), deps.pulumiPassphrase, deps.secretsKey, input);
  const masker = new Masker([...secretsOf(sealed, deps), passphrase, deps.pulumiPassphrase]);
  const stateDir = deps.pulumiBackendUrl ? undefined : stackStateDir(deps.dataDir, input);
  if (stateDir) moveLegacyState(deps.dataDir, input);
  const oidc = opts.credentials === false ? undefined : await deploymentCredentials(deps, input, settings, { workspace, masker });
  const env: Record<string, string> = {
    PATH: `${join(deps.pulumiRoot, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    // In the sandbox a home of its own; the worker's would hold the operator's files.
    HOME: deps.sandbox ? join(workspace, 'home') : (process.env.HOME ?? workspace),
    LANG: process.env.LANG ?? 'C.UTF-8',
    PULUMI_HOME: join(workspace, 'pulumi-home'),
    PULUMI_BACKEND_URL: deps.pulumiBackendUrl ?? `file://${stateDir}`,
    PULUMI_CONFIG_PASSPHRASE: passphrase,
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    // npm verifies every package against the lockfile's integrity hash, so a shared cache is safe to share.
    ...(deps.packageCaches ? packageCacheEnv(deps.packageCaches) : {}),
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
    ...oidc?.env,
  };
  const runDir = sandboxRunDir(deps, input.id);
  // Only sandboxed runs see the program at a path that stays the same, which the cache needs to hit.
  // A pull request's preview runs the request's code on the stack: what it compiled must not serve
  // the stack's own deployments, so it compiles afresh in its /tmp.
  const sharesCache = deps.sandbox && input.trigger?.event !== 'pull_request';
  const compileCache = sharesCache ? prepareCompileCache(compileCacheDir(deps.dataDir, input)) : undefined;
  if (compileCache) env.TS_NODE_CACHE_DIRECTORY = COMPILE_CACHE_ALIAS;
  const sandboxSpec = deps.sandbox
    ? writeSandboxSpec({ dataDir: deps.dataDir, runDir, workspace, stateDir, compileCache, pulumiRoot: deps.pulumiRoot, envNames: Object.keys(env) }, deps.sandbox)
    : undefined;
  return { input, settings, workspace, sourceDir, programDir, masker, env, stateDir, runDir, sandboxSpec, close: oidc?.stop };
}

/** A fresh OIDC token for each step that opens the deployment, with the files the clouds' SDKs read. */
async function deploymentCredentials(deps: WorkspaceDeps, input: DeploymentInput, settings: DeploymentSettings, o: { workspace: string; masker: Masker }) {
  const config = settings.operationContext?.oidc;
  if (!hasOidc(config)) return undefined;
  if (!deps.oidc) throw new Error('operationContext.oidc is set, but this worker issues no OIDC tokens');
  return oidcCredentials(deps.oidc, input, config, { ...o, sandboxed: !!deps.sandbox });
}

/** Plain values of every sealed field: environment secrets and git credentials. */
function secretsOf(sealed: DeploymentSettings, deps: Pick<ActivityDeps, 'box'>): string[] {
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
