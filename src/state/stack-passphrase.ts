import { hkdfSync } from 'node:crypto';
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
