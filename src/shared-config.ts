import { ConfigError, type EnvConfig } from './config';

/**
 * Settings every process of an installation must agree on. One machine generates and keeps them
 * in its data dir; processes on several machines would each generate their own (a key that cannot
 * open the others' secrets, a token only one API knows, Pulumi state nobody else sees).
 */
const SHARED: { name: keyof EnvConfig; why: string; roles: string[] }[] = [
  { name: 'STACKWRIGHT_SECRETS_KEY', why: 'seals secrets and Temporal payloads', roles: ['api', 'worker', 'pool-worker'] },
  { name: 'STACKWRIGHT_DATABASE_URL', why: 'the store every process shares', roles: ['api', 'worker'] },
  { name: 'PULUMI_BACKEND_URL', why: "where stacks' state lives, reachable by every worker and API", roles: ['api', 'worker', 'pool-worker'] },
  { name: 'PULUMI_CONFIG_PASSPHRASE', why: 'the passphrase of stacks older than per-stack passphrases', roles: ['api', 'worker', 'pool-worker'] },
  { name: 'STACKWRIGHT_TOKEN', why: 'the bootstrap admin token every API must accept', roles: ['api'] },
];

const LOOPBACK = /^(localhost|127\.[\d.]+|\[::1\]|::1)(:\d+)?$/;

/**
 * A role started alone (`main.ts api` / `main.ts worker`) belongs to a multi-machine installation
 * when its store is PostgreSQL or its Temporal is not on this host: then the shared settings must
 * be given, never generated.
 */
export function requireSharedConfig(e: EnvConfig, role: string): void {
  const multiMachine = role === 'pool-worker' || /^postgres(ql)?:\/\//.test(e.STACKWRIGHT_DATABASE_URL ?? '') || (e.TEMPORAL_ADDRESS !== undefined && !LOOPBACK.test(e.TEMPORAL_ADDRESS));
  if (!multiMachine) return;
  const missing = SHARED.filter((s) => s.roles.includes(role) && !e[s.name]);
  if (missing.length === 0) return;
  throw new ConfigError(
    `a ${role} running apart from the other processes (PostgreSQL store or a remote Temporal) must be given the settings they share, the same for every process:\n` +
      missing.map((s) => `  ${s.name}: not set (${s.why})`).join('\n'),
  );
}
