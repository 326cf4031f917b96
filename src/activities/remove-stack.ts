import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { StackRef } from '../shared/names';
import { passphraseScheme } from '../store/stack-keys';
import { passphraseFor, stackStateDir } from './stack-state';
import type { ActivityDeps } from './context';

const run = promisify(execFile);

/** The stack an activity removes, named as Pulumi names its parts. */
export interface RemoveStackRequest {
  organization: string;
  project: string;
  stack: string;
}

/**
 * Removes a stack whose resources are gone: `pulumi stack rm` in the stack's own backend (without
 * --force, so Pulumi refuses a stack that still has resources), then its deployment settings and
 * its state directory. Deployment records and logs stay. Removing a stack that is already gone
 * succeeds, so a retried activity does no harm.
 */
export function createRemoveStack(deps: ActivityDeps) {
  return {
    async removeStack({ organization, project, stack }: RemoveStackRequest): Promise<void> {
      const ref: StackRef = { org: organization, project, stack };
      const stateDir = deps.pulumiBackendUrl ? undefined : stackStateDir(deps.dataDir, ref);
      if (!stateDir || existsSync(join(stateDir, '.pulumi'))) await pulumiStackRm(deps, ref, stateDir);
      await deps.store.deleteSettings(ref);
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
}

async function pulumiStackRm(deps: ActivityDeps, ref: StackRef, stateDir: string | undefined): Promise<void> {
  // An empty directory: outside a project, the CLI takes the project from the stack's full name.
  const cwd = await mkdtemp(join(deps.dataDir, 'work', 'stack-rm-'));
  try {
    const passphrase = passphraseFor(await passphraseScheme(deps.store.db, ref), deps.pulumiPassphrase, deps.secretsKey, ref);
    await run(join(deps.pulumiRoot, 'bin', 'pulumi'), ['stack', 'rm', '--yes', '--non-interactive', `organization/${ref.project}/${ref.stack}`], {
      cwd,
      env: {
        PATH: `${join(deps.pulumiRoot, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        HOME: cwd,
        PULUMI_HOME: join(cwd, '.pulumi-home'),
        PULUMI_BACKEND_URL: deps.pulumiBackendUrl ?? `file://${stateDir}`,
        PULUMI_CONFIG_PASSPHRASE: passphrase,
        PULUMI_SKIP_UPDATE_CHECK: 'true',
      },
      timeout: 5 * 60_000,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? err);
    if (/no stack named|could not find stack|does not exist/i.test(stderr)) return;
    throw new Error(`pulumi stack rm failed: ${stderr.trim().split('\n').at(-1)}`);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}
