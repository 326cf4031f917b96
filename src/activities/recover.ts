import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { DeploymentInput } from '../shared/deployment';
import { STEP } from '../shared/deployment';
import { openDeployment, workspaceDeps, type ActivityDeps, type OpenDeployment } from './context';
import { LogWriter } from './log-writer';
import { isAlive, killAllIn, cwdOf, isInside } from './process-tree';
import { runProcess } from './run-process';
import { SANDBOX_HOSTNAME } from './sandbox';

interface LockHolder {
  pid: number;
  hostname: string;
  timestamp?: string;
}

/**
 * Puts a stack back in a usable state after its Pulumi operation was interrupted (cancelled and
 * killed, its worker lost, or stopped for hanging): make sure the old processes are gone, clear the
 * stale lock, and drop pending operations, writing each action into the deployment's log.
 * Returns one sentence for the deployment's message.
 */
export async function recoverStack(deps: ActivityDeps, input: DeploymentInput, why: string): Promise<string> {
  // Recovery runs no program: no OIDC token.
  const o = await openDeployment(workspaceDeps(deps), input, { credentials: false });
  const step = await deps.store.ensureStep(input.id, STEP.recover);
  await deps.store.setStep(input.id, step, 'running');
  const log = await LogWriter.open(deps.store, input.id, step, o.masker);
  const attempt = Context.current().info.attempt;
  log.line(`Recovering the stack${attempt > 1 ? ` (attempt ${attempt})` : ''}: ${why.replace(/\.$/, '')}.`);
  try {
    await stopLeftovers(o, log);
    const unlocked = await clearLock(deps, o, log);
    const cleared = await clearPendingOperations(deps, o, log);
    // Asynchronously: the workspace holds the program's node_modules, and a synchronous delete of
    // thousands of files would stall this worker's event loop (heartbeats, and the API when in-process).
    await rm(o.workspace, { recursive: true, force: true });
    const summary =
      `The stack was recovered: ${unlocked ? 'its stale lock was removed' : 'it was not locked'}` +
      `${cleared ? ` and ${cleared} pending operation(s) were cleared` : ', no operations were pending'}.`;
    log.line(summary);
    await log.close();
    await deps.store.setStep(input.id, step, 'succeeded');
    return summary;
  } catch (err) {
    log.line(`Recovery failed, will retry: ${(err as Error).message}`);
    await log.close();
    throw err;
  }
}

/** Kills whatever still runs in the deployment's workspace on this host, and waits until it is gone. */
async function stopLeftovers(o: OpenDeployment, log: LogWriter): Promise<void> {
  const { killed, alive } = await killAllIn(o.workspace);
  if (killed.length === 0) {
    log.line('No process of the interrupted run is left on this host.');
    return;
  }
  if (alive.length) throw new Error(`processes ${alive.join(', ')} of the interrupted run did not stop`);
  log.line(`Stopped ${killed.length} process(es) of the interrupted run still running on this host (pids ${killed.join(', ')}).`);
}

/** Returns whether a lock was removed. */
async function clearLock(deps: ActivityDeps, o: OpenDeployment, log: LogWriter): Promise<boolean> {
  const fileBackend = o.env.PULUMI_BACKEND_URL.startsWith('file://');
  if (fileBackend) {
    const holders = lockHolders(o);
    if (holders.length === 0) return false;
    for (const h of holders) {
      const since = h.timestamp ? ` since ${h.timestamp}` : '';
      if (h.hostname === SANDBOX_HOSTNAME) {
        // Pulumi ran in a sandbox of this host (its own PID namespace): stopLeftovers has ended everything that ran there.
        log.line(`The lock is held by pid ${h.pid} on ${h.hostname} (in a sandbox on this host)${since}, which is no longer running.`);
      } else if (h.hostname !== hostname()) {
        // That host's worker stopped heartbeating, which is why this runs; its process cannot be checked from here.
        log.line(`The lock is held by pid ${h.pid} on ${h.hostname}${since}, whose worker stopped responding.`);
      } else if (isAlive(h.pid) && !isInside(cwdOf(h.pid), o.workspace)) {
        throw new Error(`the stack is locked by a running pulumi process (pid ${h.pid}) that is not this deployment's`);
      } else {
        log.line(`The lock is held by pid ${h.pid}${since}, which is no longer running.`);
      }
    }
  }
  // `pulumi cancel` removes a DIY backend's lock files and cancels a Pulumi Cloud update.
  const code = await pulumi(deps, o, log, ['cancel', '--yes', '--non-interactive', '--stack', qualifiedStack(o)]);
  if (code !== 0 && fileBackend) throw new Error(`pulumi cancel exited with ${code}`);
  if (fileBackend) log.line('Removed the stale lock.');
  return fileBackend || code === 0;
}

function lockHolders(o: OpenDeployment): LockHolder[] {
  const dir = join(o.env.PULUMI_BACKEND_URL.slice('file://'.length), '.pulumi', 'locks', 'organization', o.input.project, o.input.stack);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      try {
        return JSON.parse(readFileSync(join(dir, f), 'utf8')) as LockHolder;
      } catch {
        return { pid: -1, hostname: 'unknown' };
      }
    });
}

/** Exports the state, drops pending operations and imports it back. Returns how many were dropped. */
async function clearPendingOperations(deps: ActivityDeps, o: OpenDeployment, log: LogWriter): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'stackwright-recover-'));
  try {
    const file = join(dir, 'state.json');
    const exported = await pulumi(deps, o, log, ['stack', 'export', '--stack', qualifiedStack(o), '--file', file], dir);
    if (exported !== 0 || !existsSync(file)) {
      log.line('The stack has no state to check.');
      return 0;
    }
    const state = JSON.parse(readFileSync(file, 'utf8')) as { deployment?: { pending_operations?: PendingOperation[] } };
    const pending = state.deployment?.pending_operations ?? [];
    if (pending.length === 0) return 0;
    for (const op of pending) {
      log.line(`Pending ${op.type}: ${op.resource?.urn ?? 'unknown resource'}`);
      if (op.type === 'creating') log.line('  It may exist outside the stack\'s state; a refresh or import brings it back under management.');
    }
    state.deployment!.pending_operations = [];
    writeFileSync(file, JSON.stringify(state));
    const imported = await pulumi(deps, o, log, ['stack', 'import', '--stack', qualifiedStack(o), '--file', file], dir);
    if (imported !== 0) throw new Error(`pulumi stack import exited with ${imported}`);
    log.line(`Cleared ${pending.length} pending operation(s).`);
    return pending.length;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface PendingOperation {
  type: string;
  resource?: { urn?: string };
}

/** DIY backends name every stack under the organization `organization`. */
function qualifiedStack(o: OpenDeployment): string {
  const diy = !/^https?:\/\//.test(o.env.PULUMI_BACKEND_URL);
  return `${diy ? 'organization' : o.input.org}/${o.input.project}/${o.input.stack}`;
}

async function pulumi(deps: ActivityDeps, o: OpenDeployment, log: LogWriter, args: string[], cwd = tmpdir()): Promise<number> {
  log.line(`$ pulumi ${args.join(' ')}`);
  return runProcess(join(deps.pulumiRoot, 'bin', 'pulumi'), args, { cwd, env: o.env, onOutput: (chunk) => log.write(chunk) });
}
