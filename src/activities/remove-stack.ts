import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { StackRef } from '../shared/names';
import { stackKey } from '../shared/names';
import { recordAudit } from '../store/audit';
import { ScheduleStore } from '../store/schedules';
import { passphraseScheme } from '../store/stack-keys';
import { PulumiState } from '../state/pulumi-state';
import { stateBackendUrl } from '../state/backend-url';
import { deleteSchedule, ttlWorkflowId } from '../deployments/schedules';
import type { ActivityDeps } from './context';
import { moveLegacyState, passphraseFor, stackStateDir } from './stack-state';
import { runProcess } from './run-process';
import { compileCacheDir } from './compile-cache';

/** A stack as Pulumi names its parts. */
export interface RemoveStackInput {
  organization: string;
  project: string;
  stack: string;
}

/**
 * removeStack: `pulumi stack rm` in the stack's own backend (without --force, so Pulumi refuses while
 * resources remain: destroy first), then its schedules and deployment settings. The stack's deployment
 * records stay, as its history. Safe to retry: each part is skipped once it is gone.
 */
export function createRemoveStack(deps: ActivityDeps) {
  return {
    async removeStack({ organization, project, stack }: RemoveStackInput): Promise<string> {
      const ref: StackRef = { org: organization, project, stack };
      const removed = await removePulumiStack(deps, ref);
      // The TTL workflow that asks for the removal ends by itself; cancelling it would cancel this activity.
      const caller = activityWorkflowId();
      for (const s of await new ScheduleStore(deps.store.db).list(ref)) {
        await deleteSchedule({ store: deps.store, temporal: Context.current().client }, s, { keepTtlWorkflow: caller === ttlWorkflowId(ref) });
      }
      await deps.store.deleteSettings(ref);
      // The stack's own state directory (its backend) goes with it.
      if (!deps.pulumiBackendUrl) await rm(stackStateDir(deps.dataDir, ref), { recursive: true, force: true });
      await rm(compileCacheDir(deps.dataDir, ref), { recursive: true, force: true });
      const description = `Removed the stack${removed ? ' and its Pulumi state' : ''}, its schedules and its deployment settings`;
      await recordAudit(deps.store.db, { org: organization, event: 'stack.remove', target: stackKey(ref), description, actor: caller?.startsWith('review/') ? 'review-stack' : 'schedule', tokenId: null });
      log.info('stack removed', { stack: stackKey(ref) });
      return description;
    },
  };
}

/** false when the backend had no such stack (never deployed, or removed by an earlier attempt). */
async function removePulumiStack(deps: ActivityDeps, ref: StackRef): Promise<boolean> {
  const backend = stateBackendUrl(deps.dataDir, deps.pulumiBackendUrl, ref);
  if (!deps.pulumiBackendUrl) moveLegacyState(deps.dataDir, ref);
  const state = PulumiState.open(backend);
  if (state && !(await state.checkpoint(ref))) return false;
  const home = await mkdtemp(join(tmpdir(), 'stackwright-stack-rm-'));
  try {
    const passphrase = passphraseFor(await passphraseScheme(deps.store.db, ref), deps.pulumiPassphrase, deps.secretsKey, ref);
    const diy = !/^https?:\/\//.test(backend);
    const name = `${diy ? 'organization' : ref.org}/${ref.project}/${ref.stack}`;
    let output = '';
    const code = await runProcess(join(deps.pulumiRoot, 'bin', 'pulumi'), ['stack', 'rm', '--yes', '--non-interactive', '--stack', name], {
      cwd: home,
      env: {
        PATH: `${join(deps.pulumiRoot, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        HOME: home,
        PULUMI_HOME: join(home, '.pulumi'),
        PULUMI_BACKEND_URL: backend,
        PULUMI_CONFIG_PASSPHRASE: passphrase,
        PULUMI_SKIP_UPDATE_CHECK: 'true',
      },
      onOutput: (chunk) => void (output += chunk),
    });
    if (code !== 0) {
      // Resources left in the stack: retrying cannot help until a destroy succeeds.
      const nonRetryable = /still has resources/i.test(output);
      throw ApplicationFailure.create({ message: `pulumi stack rm exited with ${code}: ${output.trim().slice(-2000)}`, nonRetryable, type: 'StackRemoveFailed' });
    }
    return true;
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

function activityWorkflowId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined;
  }
}
