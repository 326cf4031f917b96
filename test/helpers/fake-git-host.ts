import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  method: string;
  path: string;
  authorization?: string;
  privateToken?: string;
  body?: any;
}

export interface FakeGitHost {
  /** Base URL of the GitHub-style API (STACKWRIGHT_GITHUB_API_URL). */
  githubUrl: string;
  /** Base URL of the GitLab-style API (STACKWRIGHT_GITLAB_API_URL). */
  gitlabUrl: string;
  calls: RecordedCall[];
  /** Pull request / merge request comments as they stand, by `<repo>#<number>`. */
  comments: Map<string, { id: number; body: string }[]>;
  /** Files a pull request changes, by `<repo>#<number>` (GitHub's pulls/{n}/files). */
  pullFiles: Map<string, string[]>;
  /** Repository roles by login (GitHub's collaborators/{login}/permission); an unknown login is a 404. */
  githubPermissions: Map<string, 'admin' | 'maintain' | 'write' | 'triage' | 'read'>;
  /** Project access levels by user id (GitLab's members/all/{id}: 30 Developer, 20 Reporter); unknown is a 404. */
  gitlabAccess: Map<number, number>;
  /** Answer every request with this HTTP status instead (e.g. to simulate an outage). */
  failWith?: number;
  close(): Promise<void>;
}

/**
 * GitHub and GitLab are unreachable from the tests: this records the calls Stackwright makes to
 * report results (commit statuses, comments and notes) and keeps comments so updates can be seen.
 */
export async function startFakeGitHost(): Promise<FakeGitHost> {
  const calls: RecordedCall[] = [];
  const comments = new Map<string, { id: number; body: string }[]>();
  const pullFiles = new Map<string, string[]>();
  const githubPermissions: FakeGitHost['githubPermissions'] = new Map();
  const gitlabAccess = new Map<number, number>();
  let nextId = 1000;
  const host = {} as FakeGitHost;
  const server: Server = createServer((req, res) => {
    void readBody(req).then((text) => {
      const body = text ? JSON.parse(text) : undefined;
      const url = new URL(req.url ?? '/', 'http://x');
      calls.push({ method: req.method!, path: url.pathname, authorization: req.headers.authorization, privateToken: req.headers['private-token'] as string, body });
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (host.failWith) return send(host.failWith, { message: 'unavailable' });
      const route = `${req.method} ${url.pathname}`;
      let m: RegExpMatchArray | null;
      // GitHub
      if ((m = route.match(/^POST \/github\/repos\/([^/]+\/[^/]+)\/statuses\/(\w+)$/))) return send(201, { id: nextId++, ...body });
      if ((m = route.match(/^GET \/github\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/))) return send(200, comments.get(`${m[1]}#${m[2]}`) ?? []);
      if ((m = route.match(/^POST \/github\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/))) return send(201, addComment(`${m[1]}#${m[2]}`, body.body));
      if ((m = route.match(/^GET \/github\/repos\/([^/]+\/[^/]+)\/pulls\/(\d+)\/files$/))) {
        return send(200, (pullFiles.get(`${m[1]}#${m[2]}`) ?? []).map((filename) => ({ filename, status: 'modified' })));
      }
      if ((m = route.match(/^GET \/github\/repos\/([^/]+\/[^/]+)\/collaborators\/([^/]+)\/permission$/))) {
        const role = githubPermissions.get(decodeURIComponent(m[2]));
        if (!role) return send(404, { message: 'Not Found' });
        // GitHub's `permission` knows admin, write, read and none; `role_name` names the role itself.
        const permission = role === 'maintain' ? 'write' : role === 'triage' ? 'read' : role;
        return send(200, { permission, role_name: role, user: { login: decodeURIComponent(m[2]) } });
      }
      if ((m = route.match(/^PATCH \/github\/repos\/([^/]+\/[^/]+)\/issues\/comments\/(\d+)$/))) return send(200, editComment(Number(m[2]), body.body));
      // GitLab (project ids arrive URL-encoded: group%2Fproject)
      if ((m = route.match(/^POST \/gitlab\/projects\/([^/]+)\/statuses\/(\w+)$/))) return send(201, { id: nextId++, ...body });
      if ((m = route.match(/^GET \/gitlab\/projects\/([^/]+)\/merge_requests\/(\d+)\/notes$/))) return send(200, comments.get(`${decodeURIComponent(m[1])}!${m[2]}`) ?? []);
      if ((m = route.match(/^POST \/gitlab\/projects\/([^/]+)\/merge_requests\/(\d+)\/notes$/))) return send(201, addComment(`${decodeURIComponent(m[1])}!${m[2]}`, body.body));
      if ((m = route.match(/^GET \/gitlab\/projects\/([^/]+)\/members\/all\/(\d+)$/))) {
        const level = gitlabAccess.get(Number(m[2]));
        return level === undefined ? send(404, { message: '404 Not found' }) : send(200, { id: Number(m[2]), access_level: level });
      }
      if ((m = route.match(/^PUT \/gitlab\/projects\/([^/]+)\/merge_requests\/(\d+)\/notes\/(\d+)$/))) return send(200, editComment(Number(m[3]), body.body));
      send(404, { message: `no route for ${route}` });
    });
  });
  const addComment = (key: string, body: string) => {
    const c = { id: nextId++, body };
    comments.set(key, [...(comments.get(key) ?? []), c]);
    return c;
  };
  const editComment = (id: number, body: string) => {
    for (const list of comments.values()) {
      const c = list.find((x) => x.id === id);
      if (c) return Object.assign(c, { body });
    }
    return undefined;
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(host, {
    githubUrl: `${base}/github`,
    gitlabUrl: `${base}/gitlab`,
    calls,
    comments,
    pullFiles,
    githubPermissions,
    gitlabAccess,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
