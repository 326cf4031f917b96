import { isSealed } from '../shared/secrets';
import type { DeploymentSettings } from '../shared/settings';

type Form = Record<string, string | File | (string | File)[]>;

const text = (form: Form, name: string) => (typeof form[name] === 'string' ? (form[name] as string).trim() : '');

/** NAME=value lines; a line without "=" is an error naming it. */
function lines(raw: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const line of raw.split(/\r?\n/).map((l) => l.trim()).filter(Boolean)) {
    const eq = line.indexOf('=');
    if (eq <= 0) return `"${line.slice(0, 40)}" is not NAME=value`;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return out;
}

/**
 * The settings form as a merge request (POST .../deployments/settings): an emptied field is null
 * (not set), a plain variable left out is removed, and secret variables are only ever added or
 * replaced (the form never holds their values). The API validates the result like any request.
 */
export function settingsChange(current: DeploymentSettings | undefined, form: Form): object | string {
  const plain = lines(text(form, 'variables'));
  if (typeof plain === 'string') return `Environment variables: ${plain}`;
  const secrets = lines(text(form, 'secrets'));
  if (typeof secrets === 'string') return `Secret variables: ${secrets}`;
  const env: Record<string, string | { secret: string } | null> = {};
  for (const [name, value] of Object.entries(current?.operationContext?.environmentVariables ?? {})) {
    if (!isSealed(value) && !(name in plain)) env[name] = null;
  }
  Object.assign(env, plain);
  for (const [name, value] of Object.entries(secrets)) env[name] = { secret: value };
  const orNull = (name: string) => text(form, name) || null;
  return {
    sourceContext: { git: { repoURL: orNull('repoURL'), branch: orNull('branch'), repoDir: orNull('repoDir') } },
    agentPoolID: orNull('agentPoolID'),
    ...(Object.keys(env).length && { operationContext: { environmentVariables: env } }),
  };
}
