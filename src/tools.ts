import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface ToolPaths {
  /** The `temporal` CLI (dev server). */
  temporalCli: string;
  /** Temporal's time-skipping test server. */
  temporalTestServer: string;
  /** The directory holding bin/pulumi, as `PulumiCommand.get({ root })` wants it. */
  pulumiRoot: string;
}

let resolved: ToolPaths | undefined;

/**
 * Where the native tools are. scripts/tools.mjs is the one place that knows (environment overrides,
 * the cache, PATH) and builds what is missing, so this asks it.
 */
export function resolveTools(env: NodeJS.ProcessEnv = process.env): ToolPaths {
  if (resolved && env === process.env) return resolved;
  const script = join(__dirname, '..', 'scripts', 'tools.mjs');
  const r = spawnSync(process.execPath, [script, '--print-env'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('the native tools are not available (see above); run `npm run tools`');
  const vars = Object.fromEntries(
    r.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => {
        const [k, ...v] = l.split('=');
        return [k, unquote(v.join('='))];
      }),
  );
  const paths = {
    temporalCli: vars.STACKWRIGHT_TEMPORAL_CLI,
    temporalTestServer: vars.STACKWRIGHT_TEMPORAL_TEST_SERVER,
    pulumiRoot: vars.STACKWRIGHT_PULUMI_DIR,
  };
  if (env === process.env) resolved = paths;
  return paths;
}

// tools.mjs single-quotes values the shell would split.
const unquote = (s: string) => (s.startsWith("'") ? s.slice(1, -1).replace(/'\\''/g, "'") : s);
