import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cancellationSignal } from '@temporalio/activity';
import type { OpenDeployment } from './context';
import type { LogWriter } from './log-writer';
import { runProcess } from './run-process';
import { sandboxed } from './sandbox';

/** The package manager a program uses, judged by its lockfile. */
export function installCommand(dir: string): [string, string[]] | undefined {
  const has = (f: string) => existsSync(join(dir, f));
  if (!has('package.json')) return undefined;
  if (has('pnpm-lock.yaml')) return ['pnpm', ['install', '--frozen-lockfile']];
  if (has('yarn.lock')) return ['yarn', ['install', '--frozen-lockfile']];
  if (has('package-lock.json')) return ['npm', ['ci', '--no-audit', '--no-fund']];
  return ['npm', ['install', '--no-audit', '--no-fund']];
}

export async function installDependencies(o: OpenDeployment, log: LogWriter, killGraceMs: number): Promise<void> {
  const cmd = installCommand(o.programDir);
  if (!cmd) {
    log.line('No package.json in the program directory; nothing to install.');
    return;
  }
  log.line(`$ ${cmd[0]} ${cmd[1].join(' ')}`);
  const code = await runProcess(...sandboxed(o, cmd[0], cmd[1]), {
    cwd: o.programDir,
    env: o.env,
    onOutput: (c) => log.write(c),
    signal: cancellationSignal(),
    killGraceMs,
  });
  if (code !== 0) throw new Error(`${cmd[0]} exited with code ${code}`);
}
