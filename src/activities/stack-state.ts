import { cpSync, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { StackRef } from '../shared/names';

export { passphraseFor, stackPassphrase } from '../state/stack-passphrase';
export { stackStateDir } from '../state/backend-url';
import { stackStateDir } from '../state/backend-url';

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
