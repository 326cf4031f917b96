import { cancellationSignal } from '@temporalio/activity';
import { pulumiEnvFiles, type OpenDeployment } from './context';
import type { LogWriter } from './log-writer';
import { runProcess } from './run-process';
import { sandboxed } from './sandbox';

/** Runs one pre-run command in its own shell, in the program directory. */
export async function preRunCommand(o: OpenDeployment, index: number, log: LogWriter, killGraceMs: number): Promise<void> {
  const command = o.settings.operationContext?.preRunCommands?.[index];
  if (command === undefined) throw new Error(`there is no pre-run command ${index + 1}`);
  const shell = o.settings.operationContext?.options?.shell || 'bash';
  log.line(`$ ${command}`);
  const code = await runProcess(...sandboxed(o, shell, ['-c', command]), {
    cwd: o.programDir,
    env: o.env,
    onOutput: (c) => log.write(c),
    signal: cancellationSignal(),
    killGraceMs,
  });
  if (code !== 0) throw new Error(`pre-run command ${index + 1} exited with code ${code}`);
  for (const f of pulumiEnvFiles(o)) log.line(`Loading PULUMI_ENV from ${f}`);
}
