import { hkdfSync } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { StackRef } from '../shared/names';
import type { PassphraseScheme } from '../store/stack-keys';

/**
 * Each stack's passphrase is derived from the master key and its name, so a program that learns
 * its own cannot decrypt another stack's Pulumi secrets.
 */
export function stackPassphrase(masterKey: Buffer, s: StackRef): string {
  return Buffer.from(hkdfSync('sha256', masterKey, 'stackwright-pulumi-passphrase', `${s.org}/${s.project}/${s.stack}`, 32)).toString('base64url');
}

export const passphraseFor = (scheme: PassphraseScheme, shared: string, masterKey: Buffer, s: StackRef): string =>
  scheme === 'shared' ? shared : stackPassphrase(masterKey, s);

/** A file backend of the stack's own: the sandbox is given this directory and no other stack's. */
export const stackStateDir = (dataDir: string, s: StackRef): string => join(dataDir, 'stacks', s.org, s.project, s.stack);

/**
 * Stacks deployed before per-stack state lived in one backend per organization (state/<org>):
 * moves this stack's files (state, history, backups, locks) into its own backend, once.
 */
export function moveLegacyState(dataDir: string, s: StackRef): void {
  const legacy = join(dataDir, 'state', s.org, '.pulumi');
  const own = join(stackStateDir(dataDir, s), '.pulumi');
  if (!existsSync(join(legacy, 'stacks', s.project)) || existsSync(join(own, 'stacks'))) return;
  const files = readdirSync(join(legacy, 'stacks', s.project)).filter((f) => f.startsWith(`${s.stack}.json`));
  if (files.length === 0) return;
  const move = (from: string, to: string) => {
    if (!existsSync(from)) return;
    mkdirSync(dirname(to), { recursive: true });
    renameSync(from, to);
  };
  for (const f of files) move(join(legacy, 'stacks', s.project, f), join(own, 'stacks', s.project, f));
  for (const sub of ['history', 'backups']) move(join(legacy, sub, s.project, s.stack), join(own, sub, s.project, s.stack));
  move(join(legacy, 'locks', 'organization', s.project, s.stack), join(own, 'locks', 'organization', s.project, s.stack));
  if (existsSync(join(legacy, 'meta.yaml'))) cpSync(join(legacy, 'meta.yaml'), join(own, 'meta.yaml'));
}
