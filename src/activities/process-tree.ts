import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** PIDs of every live descendant of `root` (Linux /proc). */
export function descendants(root = process.pid): number[] {
  return walk(childrenByParent(), [root]);
}

/** Each live process's children, by parent pid. */
function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of stat is the parent pid; the command name in field 2 may contain spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* exited meanwhile */
    }
  }
  return children;
}

function walk(children: Map<number, number[]>, roots: number[]): number[] {
  const out: number[] = [];
  const stack = [...roots];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Working directory of a process, or undefined once it is gone. */
export function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/**
 * SIGKILLs this process's descendants that run inside `dir`, and everything they started: the
 * Automation API hides their PIDs. A sandboxed command's processes see their workspace at another
 * path (and hostile code may leave it), but its launcher runs in `dir` on the host.
 */
export function killProcessesIn(dir: string): number[] {
  const killed: number[] = [];
  for (const pid of withDescendants(descendants().filter((pid) => isInside(cwdOf(pid), dir)))) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* gone */
    }
  }
  return killed;
}

/**
 * Every process on this host working inside `dir`, whoever its parent is, and their descendants:
 * after a worker dies, its Pulumi processes are orphans and no longer anyone's descendants.
 */
export function processesIn(dir: string): number[] {
  const inside = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => pid !== process.pid && isInside(cwdOf(pid), dir));
  return withDescendants(inside);
}

/** The given processes and all of their descendants, each once. */
function withDescendants(pids: number[]): number[] {
  return [...new Set([...pids, ...walk(childrenByParent(), pids)])];
}

/** SIGKILLs every process working inside `dir` and waits up to 10 s for them to go; returns the pids. */
export async function killAllIn(dir: string): Promise<{ killed: number[]; alive: number[] }> {
  const killed = processesIn(dir);
  for (const pid of killed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 50 && killed.some(isAlive); i++) await new Promise((r) => setTimeout(r, 200));
  return { killed, alive: killed.filter(isAlive) };
}

export function isInside(path: string | undefined, dir: string): boolean {
  return path !== undefined && (path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return cwdOf(pid) !== undefined || !isZombie(pid);
  } catch {
    return false;
  }
}

/** A zombie has exited and only waits to be reaped; it holds nothing. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
