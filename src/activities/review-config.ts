import { existsSync } from 'node:fs';
import { chown, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stack } from '@pulumi/pulumi/automation';
import { parse, stringify } from 'yaml';
import { PassphraseCrypter } from '../state/passphrase-crypter';
import type { OpenDeployment, WorkspaceDeps } from './context';
import type { LogWriter } from './log-writer';
import { passphraseFor } from './stack-state';
import { SANDBOX_UID } from './sandbox';

const crypter = new PassphraseCrypter();

/**
 * A review stack starts from its template's stack config, as Pulumi Deployments does: when the
 * commit has no `Pulumi.<review>.yaml`, its `Pulumi.<template>.yaml` is copied under the review
 * stack's name. Plain values are copied as they are; secrets are opened with the template's
 * passphrase and set again as secrets of the review stack (each stack has its own passphrase).
 * Decided before the stack is selected (selecting creates the file); applied once it is.
 */
export async function templateConfig(deps: WorkspaceDeps, o: OpenDeployment): Promise<((stack: Stack, log: LogWriter) => Promise<void>) | undefined> {
  const template = await deps.workspaceStore.reviewTemplate(o.input);
  if (!template) return undefined;
  const own = join(o.programDir, `Pulumi.${o.input.stack}.yaml`);
  const file = `Pulumi.${template.stack}.yaml`;
  if (existsSync(own) || !existsSync(join(o.programDir, file))) return undefined;
  const doc = (parse(await readFile(join(o.programDir, file), 'utf8')) ?? {}) as { config?: Record<string, unknown>; encryptionsalt?: string; secretsprovider?: string };
  const plain: Record<string, unknown> = {};
  const secrets: [string, string][] = [];
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (isSecure(value)) secrets.push([key, value.secure]);
    else if (containsSecure(value)) throw new Error(`${file}: the secret inside ${key} cannot be copied; make ${key} a secret as a whole`);
    else plain[key] = value;
  }
  if (secrets.length && (doc.secretsprovider || !doc.encryptionsalt)) throw new Error(`${file}: only secrets of the passphrase provider can be copied`);
  return async (stack, log) => {
    // Selecting the stack may have written its own salt there: kept.
    const created = existsSync(own) ? ((parse(await readFile(own, 'utf8')) ?? {}) as Record<string, unknown>) : {};
    await writeFile(own, stringify({ ...created, config: plain }));
    // Pulumi, in the sandbox, writes the secrets into it.
    if (o.sandboxSpec && process.getuid?.() === 0) await chown(own, SANDBOX_UID, SANDBOX_UID);
    if (secrets.length) {
      const passphrase = passphraseFor(await deps.workspaceStore.passphraseScheme(o.input, 'template'), deps.pulumiPassphrase, deps.secretsKey, template);
      for (const [key, sealed] of secrets) {
        const value = await crypter.decrypt(passphrase, doc.encryptionsalt!, sealed);
        o.masker.add(value);
        await stack.setConfig(key, { value, secret: true });
      }
    }
    log.line(`Copied the config of the template stack (${file}) to Pulumi.${o.input.stack}.yaml: ${Object.keys(doc.config ?? {}).length} value(s).`);
  };
}

const isSecure = (v: unknown): v is { secure: string } => typeof v === 'object' && v !== null && typeof (v as { secure?: unknown }).secure === 'string' && Object.keys(v).length === 1;
const containsSecure = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.values(v).some((x) => isSecure(x) || containsSecure(x));
