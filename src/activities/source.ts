import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cancellationSignal } from '@temporalio/activity';
import { parse } from 'yaml';
import type { ActivityDeps, OpenDeployment } from './context';
import type { LogWriter } from './log-writer';
import { fetchSource, pruneMirrors, type GitAuth } from './git';
import { safeHeartbeat } from './run-process';
import { prepareSandbox } from './sandbox';

/** Mirrors unused this long are removed. */
export const MIRROR_MAX_IDLE_MS = 14 * 24 * 3600_000;
let lastPrune = 0;

/**
 * The repository's mirror in the data dir, one per repository and credentials: a stack never
 * checks out, without fetching, what another stack's credentials fetched. The name is keyed by the
 * secrets key, so it says nothing about the credentials.
 */
export function mirrorDir(deps: Pick<ActivityDeps, 'dataDir' | 'secretsKey'>, repoURL: string, auth: GitAuth | undefined): string {
  const id = createHmac('sha256', deps.secretsKey).update(JSON.stringify([repoURL, auth ?? null])).digest('hex').slice(0, 32);
  return join(deps.dataDir, 'git-mirrors', `${id}.git`);
}

/** Clones the program (through the repository's mirror) and checks it is the project the deployment was asked for. */
export async function getSource(o: OpenDeployment, log: LogWriter, deps: Pick<ActivityDeps, 'dataDir' | 'secretsKey' | 'allowLocalRepos'>): Promise<{ commit: string }> {
  const allowLocal = deps.allowLocalRepos ?? false;
  const git = o.settings.sourceContext?.git;
  if (!git?.repoURL) throw new Error('sourceContext.git.repoURL is not set');
  mkdirSync(o.workspace, { recursive: true });
  log.line(`Cloning ${redactUrl(git.repoURL)}${git.branch ? ` (branch ${git.branch})` : ''}${git.commit ? ` (commit ${git.commit})` : ''}`);
  const beat = setInterval(() => safeHeartbeat(), 5_000);
  const auth = gitAuth(o);
  let commit: string;
  try {
    ({ commit } = await fetchSource({
      repoURL: git.repoURL,
      branch: git.branch,
      commit: git.commit,
      dest: o.sourceDir,
      auth,
      mirror: mirrorDir(deps, git.repoURL, auth),
      log: (l) => log.line(l),
      signal: cancellationSignal(),
      allowLocal,
    }));
  } finally {
    clearInterval(beat);
  }
  log.line(`Successfully cloned ${redactUrl(git.repoURL)} at ${commit}`);
  if (Date.now() - lastPrune > 3600_000) {
    lastPrune = Date.now();
    void pruneMirrors(join(deps.dataDir, 'git-mirrors'), MIRROR_MAX_IDLE_MS).catch(() => undefined);
  }
  checkProject(o);
  if (o.sandboxSpec) prepareSandbox(o);
  return { commit };
}

function gitAuth(o: OpenDeployment): GitAuth | undefined {
  const a = o.settings.sourceContext?.git?.gitAuth as Record<string, unknown> | undefined;
  if (!a) return undefined;
  if (a.sshAuth) return { sshAuth: a.sshAuth as { sshPrivateKey: string; password?: string } };
  if (a.accessToken) return { accessToken: a.accessToken as string };
  if (a.basicAuth) return { basicAuth: a.basicAuth as { userName: string; password: string } };
  return undefined;
}

function checkProject(o: OpenDeployment): void {
  if (!existsSync(o.programDir)) throw new Error(`repoDir '${o.settings.sourceContext?.git?.repoDir}' does not exist in the repository`);
  const file = ['Pulumi.yaml', 'Pulumi.yml'].map((f) => join(o.programDir, f)).find(existsSync);
  if (!file) throw new Error('no Pulumi.yaml found in the program directory');
  const name = (parse(readFileSync(file, 'utf8')) as { name?: unknown } | null)?.name;
  if (name !== o.input.project) {
    throw new Error(`Pulumi.yaml names the project '${String(name)}', but this deployment is for project '${o.input.project}'`);
  }
}

const redactUrl = (url: string) => url.replace(/\/\/[^/@]*@/, '//');
