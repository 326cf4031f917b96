import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cancellationSignal } from '@temporalio/activity';
import { parse } from 'yaml';
import type { OpenDeployment } from './context';
import type { LogWriter } from './log-writer';
import { fetchSource, type GitAuth } from './git';
import { safeHeartbeat } from './run-process';
import { prepareSandbox } from './sandbox';

/** Clones the program and checks it is the project the deployment was asked for. */
export async function getSource(o: OpenDeployment, log: LogWriter, allowLocal: boolean): Promise<{ commit: string }> {
  const git = o.settings.sourceContext?.git;
  if (!git?.repoURL) throw new Error('sourceContext.git.repoURL is not set');
  mkdirSync(o.workspace, { recursive: true });
  log.line(`Cloning ${redactUrl(git.repoURL)}${git.branch ? ` (branch ${git.branch})` : ''}${git.commit ? ` (commit ${git.commit})` : ''}`);
  const beat = setInterval(() => safeHeartbeat(), 5_000);
  let commit: string;
  try {
    ({ commit } = await fetchSource({
      repoURL: git.repoURL,
      branch: git.branch,
      commit: git.commit,
      dest: o.sourceDir,
      auth: gitAuth(o),
      log: (l) => log.line(l),
      signal: cancellationSignal(),
      allowLocal,
    }));
  } finally {
    clearInterval(beat);
  }
  log.line(`Successfully cloned ${redactUrl(git.repoURL)} at ${commit}`);
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
