import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHttpServerOptions {
  /** Directory holding the repositories (GIT_PROJECT_ROOT); `<url>/<name>.git` serves `<root>/<name>.git`. */
  root: string;
  /** When both are set, every request must carry these HTTP Basic credentials. */
  username?: string;
  password?: string;
}

export interface GitHttpServer {
  /** http://127.0.0.1:<port>, without a trailing slash. */
  url: string;
  close(): Promise<void>;
}

/** Git smart-HTTP server on 127.0.0.1: Basic auth in front of `git http-backend` run as a CGI. */
export async function startGitHttpServer(opts: GitHttpServerOptions): Promise<GitHttpServer> {
  const expectedAuth =
    opts.username !== undefined && opts.password !== undefined
      ? `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`
      : undefined;

  const server = http.createServer((req, res) => {
    if (expectedAuth !== undefined && req.headers.authorization !== expectedAuth) {
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_PROJECT_ROOT: opts.root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method,
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: req.socket.remoteAddress,
      // Setting REMOTE_USER also enables pushes (receive-pack).
      REMOTE_USER: opts.username ?? 'anonymous',
    };
    // Without CONTENT_LENGTH http-backend reads the (possibly chunked) body until EOF.
    if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
    // CGI passes request headers as HTTP_*; http-backend needs e.g. HTTP_GIT_PROTOCOL, HTTP_CONTENT_ENCODING.
    for (const [name, value] of Object.entries(req.headers)) {
      if (name !== 'authorization' && typeof value === 'string') {
        env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = value;
      }
    }

    const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    cgi.stdin.on('error', () => {}); // the backend may exit before reading the whole body
    req.pipe(cgi.stdin);
    cgi.on('error', (err) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });

    // CGI output: header lines, an empty line, then the body.
    let head: Buffer | undefined = Buffer.alloc(0);
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (!head) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const text = head.toString('latin1');
      const match = /\r?\n\r?\n/.exec(text);
      if (!match) return;
      for (const line of text.slice(0, match.index).split(/\r?\n/)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') res.statusCode = parseInt(value, 10);
        else if (colon > 0) res.setHeader(name, value);
      }
      const body = head.subarray(match.index + match[0].length);
      head = undefined;
      res.write(body);
    });
    cgi.stdout.on('end', () => res.end());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
