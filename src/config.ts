import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from './shared/ids';

const port = z.coerce.number().int().min(1).max(65535);
const optionalUrl = z.string().url().optional();

/** Every setting Stackwright reads from the environment (see the README's table). */
export const EnvConfig = z.object({
  STACKWRIGHT_DATA_DIR: z.string().min(1).default('./.stackwright'),
  STACKWRIGHT_PORT: port.default(8080),
  STACKWRIGHT_HOST: z.string().min(1).default('127.0.0.1'),
  STACKWRIGHT_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  STACKWRIGHT_SECRETS_KEY: z
    .string()
    .refine((k) => Buffer.from(k, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
    .optional(),
  STACKWRIGHT_DATABASE_URL: z.string().min(1).optional(),
  STACKWRIGHT_PUBLIC_URL: optionalUrl,
  STACKWRIGHT_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  STACKWRIGHT_TEMPORAL_PORT: port.default(7233),
  STACKWRIGHT_TEMPORAL_UI_URL: optionalUrl,
  STACKWRIGHT_KILL_GRACE_SECONDS: z.coerce.number().min(0).default(120),
  STACKWRIGHT_DRAIN_SECONDS: z.coerce.number().min(0).default(1800),
  STACKWRIGHT_PULUMI_IDLE_TIMEOUT_SECONDS: z.coerce.number().min(1).default(1800),
  STACKWRIGHT_RETRY_INTERRUPTED: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  STACKWRIGHT_PULUMI_MAX_DURATION_SECONDS: z.coerce.number().min(1).max(86_000).default(6 * 3600),
  STACKWRIGHT_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  STACKWRIGHT_POOL: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'letters, digits, _ . - (at most 100)').optional(),
  PULUMI_BACKEND_URL: z.string().min(1).optional(),
  PULUMI_CONFIG_PASSPHRASE: z.string().optional(),
  STACKWRIGHT_GITHUB_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  STACKWRIGHT_GITLAB_WEBHOOK_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  STACKWRIGHT_GENERIC_VCS_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  STACKWRIGHT_WEBHOOK_MAX_BYTES: z.coerce.number().int().min(1024).default(5 * 1024 * 1024),
  STACKWRIGHT_GITHUB_API_URL: z.string().url().default('https://api.github.com'),
  STACKWRIGHT_GITHUB_TOKEN: z.string().min(1).optional(),
  STACKWRIGHT_GITLAB_API_URL: z.string().url().default('https://gitlab.com/api/v4'),
  STACKWRIGHT_GITLAB_TOKEN: z.string().min(1).optional(),
  STACKWRIGHT_CODEC_KEYS: z
    .string()
    .refine((v) => v.split(',').every((e) => /^[A-Za-z0-9_.-]+=/.test(e.trim()) && Buffer.from(e.split('=')[1] ?? '', 'base64').length === 32), 'must be id=<base64 32-byte key>, comma-separated')
    .optional(),
  STACKWRIGHT_SANDBOX: z.enum(['on', 'off']).default('on'),
  STACKWRIGHT_SANDBOX_BINDS: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const binds = v.split(',').map((b) => b.trim()).filter(Boolean).map((b) => ({ path: b.replace(/:ro$/, ''), readOnly: b.endsWith(':ro') }));
      for (const b of binds) if (!isAbsolute(b.path)) ctx.addIssue({ code: 'custom', message: `${b.path}: must be an absolute path` });
      return binds.map((b) => ({ ...b, path: resolve(b.path) }));
    }),
  STACKWRIGHT_NPM_CACHE: z.string().refine(isAbsolute, 'must be an absolute path').optional(),
  STACKWRIGHT_ALLOW_LOCAL_REPOS: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  STACKWRIGHT_MAX_CONCURRENT_DEPLOYMENTS: z.coerce.number().int().min(1).default(() => availableParallelism()),
  STACKWRIGHT_DEPENDENCY_CACHE_MAX_MB: z.coerce.number().int().min(0).default(10240),
  STACKWRIGHT_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(200),
  STACKWRIGHT_TTL_WARNINGS: z
    .string()
    .default('24h,1h')
    .transform((v, ctx) => {
      const leads = v.split(',').map((x) => x.trim()).filter(Boolean).map((x) => /^(\d+)([mhd])$/.exec(x));
      if (leads.some((m) => !m)) ctx.addIssue({ code: 'custom', message: 'expected lead times such as 24h,1h,30m,7d (minutes, hours, days)' });
      return leads.map((m) => Number(m![1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m![2] as 'm' | 'h' | 'd']);
    }),
  STACKWRIGHT_WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  STACKWRIGHT_HOOK_RETRY_SECONDS: z.coerce.number().min(0.01).max(3600).default(60),
  STACKWRIGHT_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  STACKWRIGHT_OIDC_TOKEN_SECONDS: z.coerce.number().int().min(60).max(43_200).default(7200),
  STACKWRIGHT_OIDC_KEY_ROTATION_SECONDS: z.coerce.number().int().min(60).default(30 * 86_400),
});
export type EnvConfig = z.infer<typeof EnvConfig>;

export type SandboxBind = EnvConfig['STACKWRIGHT_SANDBOX_BINDS'][number];

export class ConfigError extends Error {}

/** Parses the environment; a bad value fails with a message naming the variable. */
export function parseEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const r = EnvConfig.safeParse(env);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

export interface Config extends EnvConfig {
  dataDir: string;
  token: string;
  secretsKey: Buffer;
  pulumiPassphrase: string;
  databaseUrl: string;
  publicUrl: string;
}

/**
 * Resolves the settings that default to generated secrets: each is created once, kept in the
 * data dir (mode 0600) and reused, so a restart keeps the token and can read what it stored.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(env);
  const dataDir = resolve(e.STACKWRIGHT_DATA_DIR);
  const exposing = e.STACKWRIGHT_SANDBOX_BINDS.find((b) => overlaps(b.path, dataDir));
  if (exposing) throw new ConfigError(`invalid configuration:\n  STACKWRIGHT_SANDBOX_BINDS: ${exposing.path} would expose the data dir ${dataDir} to deployments`);
  if (e.STACKWRIGHT_NPM_CACHE && overlaps(resolve(e.STACKWRIGHT_NPM_CACHE), dataDir)) {
    throw new ConfigError(`invalid configuration:\n  STACKWRIGHT_NPM_CACHE: ${e.STACKWRIGHT_NPM_CACHE} would expose the data dir ${dataDir} to deployments`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const kept = (file: string, make: () => string) => {
    const path = join(dataDir, file);
    if (!existsSync(path)) {
      // Written aside and linked into place: roles starting together all read the one that won.
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, make(), { mode: 0o600 });
      try {
        linkSync(tmp, path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        unlinkSync(tmp);
      }
    }
    return readFileSync(path, 'utf8').trim();
  };
  return {
    ...e,
    dataDir,
    token: e.STACKWRIGHT_TOKEN ?? kept('api-token', () => randomBytes(24).toString('base64url')),
    secretsKey: Buffer.from(e.STACKWRIGHT_SECRETS_KEY ?? kept('secrets.key', () => randomBytes(32).toString('base64')), 'base64'),
    pulumiPassphrase: e.PULUMI_CONFIG_PASSPHRASE ?? kept('pulumi-passphrase', () => randomBytes(24).toString('base64url')),
    databaseUrl: e.STACKWRIGHT_DATABASE_URL ?? join(dataDir, 'stackwright.db'),
    publicUrl: e.STACKWRIGHT_PUBLIC_URL ?? `http://${e.STACKWRIGHT_HOST}:${e.STACKWRIGHT_PORT}`,
  };
}

/** One path contains the other (or they are the same). */
function overlaps(a: string, b: string): boolean {
  const inside = (x: string, y: string) => !relative(y, x).startsWith('..');
  return inside(a, b) || inside(b, a);
}

/**
 * Variables that must not reach deployments: the Automation API passes its process env on. The worker
 * reads its own (the reporting tokens too) from the parsed config before they are removed.
 */
export const PRIVATE_ENV = [
  'STACKWRIGHT_TOKEN',
  'STACKWRIGHT_SECRETS_KEY',
  'STACKWRIGHT_DATABASE_URL',
  'PULUMI_CONFIG_PASSPHRASE',
  'STACKWRIGHT_GITHUB_WEBHOOK_SECRET',
  'STACKWRIGHT_GITLAB_WEBHOOK_TOKEN',
  'STACKWRIGHT_GENERIC_VCS_SECRET',
  'STACKWRIGHT_GITHUB_TOKEN',
  'STACKWRIGHT_METRICS_TOKEN',
  'STACKWRIGHT_GITLAB_TOKEN',
  'STACKWRIGHT_CODEC_KEYS',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_KEY',
];
