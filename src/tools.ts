// Locates the native tools installed by scripts/tools.mjs (`npm run tools`).
// Same rules as that script: STACKWRIGHT_* env overrides win, otherwise the
// versioned layout in the cache dir. This module never builds anything.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface ToolPaths {
  /** The `temporal` CLI binary (dev server). */
  temporalCli: string;
  /** The `temporal-test-server` binary (time-skipping test server). */
  temporalTestServer: string;
  /** Directory containing bin/pulumi: what `PulumiCommand.get({ root })` wants. */
  pulumiRoot: string;
}

export interface ToolVersions {
  temporalCli: { pypi: string; version: string };
  temporalTestServer: { pypi: string; version: string };
  pulumi: { version: string };
  pulumiLanguageNodejs: { version: string };
}

type Env = Readonly<Record<string, string | undefined>>;

// Relative to this file so it works from src/ (tsx, jest) and lib/ (compiled).
const VERSIONS_FILE = path.join(__dirname, '..', 'tools', 'versions.json');

export function toolVersions(): ToolVersions {
  return JSON.parse(fs.readFileSync(VERSIONS_FILE, 'utf8')) as ToolVersions;
}

export function cacheDir(env: Env = process.env): string {
  if (env.STACKWRIGHT_CACHE_DIR) return env.STACKWRIGHT_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'stackwright');
}

function isFile(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
}

function requireFiles(tool: string, files: string[], envVar: string | undefined): void {
  const missing = files.find((f) => !isFile(f));
  if (missing === undefined) return;
  const fix = envVar ? `fix ${envVar}, or unset it and run \`npm run tools\`` : 'run `npm run tools`';
  throw new Error(`${tool} not found: ${missing} does not exist; ${fix}`);
}

export function resolveTools(env: Env = process.env): ToolPaths {
  const v = toolVersions();
  const cache = cacheDir(env);

  const binary = (tool: string, envVar: string, dir: string, name: string): string => {
    const override = env[envVar];
    const file = override ? path.resolve(override) : path.join(cache, dir, 'bin', name);
    requireFiles(tool, [file], override ? envVar : undefined);
    return file;
  };
  const temporalCli = binary(
    'temporal CLI',
    'STACKWRIGHT_TEMPORAL_CLI',
    `temporal-cli-${v.temporalCli.version}`,
    'temporal',
  );
  const temporalTestServer = binary(
    'temporal test server',
    'STACKWRIGHT_TEMPORAL_TEST_SERVER',
    `temporal-test-server-${v.temporalTestServer.version}`,
    'temporal-test-server',
  );

  // An override is a ~/.pulumi-style install; only bin/pulumi is guaranteed there.
  // Our own build also bundles the language host and dynamic-provider shim.
  const override = env.STACKWRIGHT_PULUMI_DIR;
  const pulumiRoot = override
    ? path.resolve(override)
    : path.join(cache, `pulumi-${v.pulumi.version}-nodejs-${v.pulumiLanguageNodejs.version}`);
  const bins = override
    ? ['pulumi']
    : ['pulumi', 'pulumi-language-nodejs', 'pulumi-resource-pulumi-nodejs'];
  requireFiles(
    'pulumi CLI',
    bins.map((b) => path.join(pulumiRoot, 'bin', b)),
    override ? 'STACKWRIGHT_PULUMI_DIR' : undefined,
  );

  return { temporalCli, temporalTestServer, pulumiRoot };
}
