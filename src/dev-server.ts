import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { devServerSearchAttributeFlags } from './temporal';

export interface DevServerOptions {
  temporalCli: string;
  dataDir: string;
  port: number;
  namespace: string;
  /** Defaults to a file in the data dir so workflows survive restarts. */
  dbFilename?: string;
  ui?: boolean;
  /** In a process group of its own, so a Ctrl-C in the terminal does not stop it before the worker has drained. */
  detached?: boolean;
  /** Remote codec the Web UI decodes payloads with (Stackwright's API). */
  codecEndpoint?: string;
}

/** Starts `temporal server start-dev` and resolves once its gRPC port accepts connections. */
export async function startDevServer(o: DevServerOptions): Promise<{ address: string; uiUrl?: string; child: ChildProcess }> {
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(o.port),
    '--namespace', o.namespace,
    '--db-filename', o.dbFilename ?? join(o.dataDir, 'temporal.db'),
    '--log-level', 'error',
    ...(o.ui === false ? ['--headless'] : ['--ui-port', String(o.port + 1000)]),
    ...devServerSearchAttributeFlags(),
    ...(o.codecEndpoint && o.ui !== false ? ['--ui-codec-endpoint', o.codecEndpoint] : []),
  ];
  const child = spawn(o.temporalCli, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: o.detached });
  const address = `127.0.0.1:${o.port}`;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`temporal dev server exited with code ${code}`))),
  );
  exited.catch(() => undefined); // once it is up, its exit is the caller's to watch
  try {
    await Promise.race([waitForPort('127.0.0.1', o.port, 60_000), exited]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { address, uiUrl: o.ui === false ? undefined : `http://localhost:${o.port + 1000}`, child };
}

export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = createConnection({ host, port }, () => (s.end(), res(true)));
      s.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A port nothing listens on right now, and its +1000 neighbour (the Temporal UI) too, taken from
 * below the OS's ephemeral range: what the OS hands out to `listen(0)` (the dev server's HTTP and
 * metrics ports, other tests' servers) or to outgoing connections can then never take it between
 * this check and the caller's bind.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  const top = low - 1001;
  for (let i = 0; top > 10_000 && i < 200; i++) {
    const port = 10_000 + Math.floor(Math.random() * (top - 10_000));
    if ((await canBind(port)) && (await canBind(port + 1000))) return port;
  }
  return osPort();
}

function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

const canBind = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

const osPort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
