import type { ChildProcess } from 'node:child_process';

/** Stops the servers global-setup started. */
export default async function globalTeardown(): Promise<void> {
  const servers = (globalThis as { __servers?: ChildProcess[] }).__servers ?? [];
  await Promise.all(
    servers.map(async (child) => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }),
  );
}
