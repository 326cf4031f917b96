import type { ChildProcess } from 'node:child_process';

export interface Role {
  name: string;
  /** Starts the role; a rejection counts as a crash. */
  start(): Promise<ChildProcess>;
  /** How long a SIGTERM may take (a worker drains) before SIGKILL. */
  stopTimeoutMs: number;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** A role that ran this long before crashing starts again from `initialMs`. */
  stableMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 30_000, stableMs: 60_000 };

interface Log {
  info(meta: object, message: string): void;
  error(meta: object, message: string): void;
}

interface Running {
  role: Role;
  child?: ChildProcess;
  restarts: number;
  /** Crashes since the role last ran stably; sets the next delay. */
  streak: number;
  timer?: NodeJS.Timeout;
}

/**
 * Keeps a group of processes running: a role that exits (or fails to start) is started again after
 * an exponential backoff, logged and counted, while the others go on. Only `stop` ends the group.
 */
export class Supervisor {
  private readonly roles = new Map<string, Running>();
  private stopping = false;

  constructor(
    private readonly log: Log,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {}

  /** Starts a role; resolves once its first start succeeded (or throws: nothing runs yet to supervise). */
  async add(role: Role): Promise<ChildProcess> {
    const r: Running = { role, restarts: 0, streak: 0 };
    this.roles.set(role.name, r);
    const child = await role.start();
    this.watch(r, child);
    return child;
  }

  /** The role's current process, if one runs. */
  pid(name: string): number | undefined {
    return this.roles.get(name)?.child?.pid;
  }

  restarts(name: string): number {
    return this.roles.get(name)?.restarts ?? 0;
  }

  /** Stops the roles group by group, in the given order (each group in parallel). */
  async stop(order: string[][], force = false): Promise<void> {
    this.stopping = true;
    for (const r of this.roles.values()) clearTimeout(r.timer);
    for (const group of order) {
      const running = group.map((n) => this.roles.get(n)).filter((r): r is Running => r !== undefined);
      await Promise.all(running.map((r) => (r.child ? terminate(r.child, force ? 0 : r.role.stopTimeoutMs) : undefined)));
    }
  }

  private watch(r: Running, child: ChildProcess): void {
    r.child = child;
    const started = Date.now();
    child.once('exit', (code, signal) => {
      r.child = undefined;
      if (this.stopping) return;
      if (Date.now() - started >= this.backoff.stableMs) r.streak = 0;
      this.crashed(r, { code, signal });
    });
  }

  private crashed(r: Running, how: object): void {
    r.restarts++;
    const delayMs = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** r.streak++);
    this.log.error({ role: r.role.name, ...how, restarts: r.restarts, delayMs }, `${r.role.name} exited; restarting`);
    r.timer = setTimeout(() => {
      if (this.stopping) return;
      r.role.start().then(
        (child) => {
          if (this.stopping) child.kill('SIGTERM');
          else {
            this.log.info({ role: r.role.name, pid: child.pid, restarts: r.restarts }, `${r.role.name} restarted`);
            this.watch(r, child);
          }
        },
        (err: unknown) => this.crashed(r, { error: String(err) }),
      );
    }, delayMs);
  }
}

/** SIGTERM, then SIGKILL whatever still runs after `timeoutMs`. */
export async function terminate(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(timeoutMs > 0 ? 'SIGTERM' : 'SIGKILL');
  const force = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(force);
}
