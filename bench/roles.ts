/** Starting Stackwright's roles as separate processes (`src/main.ts <role>`), as an operator runs them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const MAIN = join(__dirname, '..', 'src', 'main.ts');

/** One role in its own process; stderr passes through (warnings and crashes show), stdout is dropped. */
export function startRole(role: 'worker' | 'api', env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, MAIN, role], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Resolves once the API at `base` answers /healthz (one minute at most). */
export async function waitForApi(base: string): Promise<void> {
  for (let i = 0; !(await fetch(`${base}/healthz`).then((r) => r.ok, () => false)); i++) {
    if (i > 600) throw new Error('the API did not come up');
    await new Promise((r) => setTimeout(r, 100));
  }
}
