import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { createProgramRepo } from '../helpers/repo';
import { readAllLogs, waitForDeployment, newOutDir } from '../helpers/stackwright';
import { startGroup, type Group } from '../helpers/group';
import { startFakeGitHost, type FakeGitHost } from '../helpers/fake-git-host';
import { githubExample, retarget } from '../helpers/webhook-examples';
import { deploymentWorkflowId, stackWorkflowId } from '../../src/shared/ids';
import { resolveTools } from '../../src/tools';

// A hostile deployment: its pre-run command and its program try to take what Stackwright keeps
// from deployments, and print what they got. Then every sink is searched for its secret.
const CANARY = 'sw-canary-secret-7Kq2Vx9P';
// Not a secret, but the pre-run commands stay in Stackwright's store: workflow inputs never carry them.
const COMMAND_MARKER = 'sw-canary-command-Jw4tB';
const GITHUB_SECRET = 'canary-gh-webhook-secret-0123456789';
const REPOSITORY = 'Codertocat/Hello-World';
const org = `canary${Date.now().toString(36)}`;
const ref = { org, project: 'website', stack: 'dev' };
const stack = `/api/stacks/${org}/website/dev`;

// `npm start` as a real process tree, logging everything it can, so its output is a sink too.
let sw: Group;
let host: FakeGitHost;
let temporalAddress: string;
let id: string;
let version: number;
let log: string;
let preRunLog: string;
let previewVersion: number;

/** Prints `GOT <what>` for everything it manages to read or reach. */
const probe = (data: string, temporalPort: string, apiPort: string) => `
for f in ${data}/api-token ${data}/secrets.key ${data}/stackwright.db ${data}/pulumi-passphrase \\
         ${data}/stacks/${org}/other/dev/.pulumi/stacks/other/dev.json ${data}/state/${org}/.pulumi/meta.yaml \\
         ${data}/work/other-deployment/secret.txt; do
  if cat "$f" >/dev/null 2>&1; then echo "GOT file $f"; fi
done
ls ${data} 2>/dev/null | grep -v -e '^work$' -e '^stacks$' | sed 's/^/GOT listing /'
ls ${data}/stacks/${org} 2>/dev/null | grep -v '^website$' | sed 's/^/GOT stack /'
ls ${data}/work 2>/dev/null | grep -v "^$PULUMI_CI_BUILD_ID$" | sed 's/^/GOT workspace /'
for p in /proc/[0-9]*; do
  if tr '\\0' '\\n' < "$p/environ" 2>/dev/null | grep -q '^STACKWRIGHT_'; then echo "GOT environ of $p"; fi
done
env | grep -E '^STACKWRIGHT_|^TEMPORAL_' | sed 's/^/GOT variable /'
if (exec 3<>/dev/tcp/127.0.0.1/${temporalPort}) 2>/dev/null; then echo "GOT temporal port ${temporalPort}"; fi
if (exec 3<>/dev/tcp/127.0.0.1/${apiPort}) 2>/dev/null; then echo "GOT api port ${apiPort}"; fi
echo "PROBE DONE as uid $(id -u) home $HOME"
`;

/** `temporal workflow show --output json` prints payloads' data in base64: every one of them, decoded. */
function payloadData(json: string): string {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'data' && typeof x === 'string') out.push(Buffer.from(x, 'base64').toString('latin1'));
        else walk(x);
      }
    }
  };
  walk(JSON.parse(json));
  return out.join('\n');
}

beforeAll(async () => {
  host = await startFakeGitHost();
  sw = await startGroup({
    STACKWRIGHT_LOG_LEVEL: 'debug',
    STACKWRIGHT_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
    STACKWRIGHT_GITHUB_API_URL: host.githubUrl,
    STACKWRIGHT_GITHUB_TOKEN: 'ghp_canary_reporting_token',
    STACKWRIGHT_NPM_CACHE: join(homedir(), '.cache', 'stackwright', 'test-npm-cache'),
  });
  temporalAddress = `127.0.0.1:${sw.config.STACKWRIGHT_TEMPORAL_PORT}`;
  const data = sw.config.dataDir;
  // What other stacks and deployments would have left in the data dir.
  mkdirSync(join(data, 'stacks', org, 'other', 'dev', '.pulumi', 'stacks', 'other'), { recursive: true });
  writeFileSync(join(data, 'stacks', org, 'other', 'dev', '.pulumi', 'stacks', 'other', 'dev.json'), '{"other": "state"}');
  mkdirSync(join(data, 'state', org, '.pulumi'), { recursive: true });
  writeFileSync(join(data, 'state', org, '.pulumi', 'meta.yaml'), 'version: 1\n');
  mkdirSync(join(data, 'work', 'other-deployment'), { recursive: true });
  writeFileSync(join(data, 'work', 'other-deployment', 'secret.txt'), 'other');

  const temporalPort = String(sw.config.STACKWRIGHT_TEMPORAL_PORT);
  const apiPort = new URL(sw.url).port;
  const repo = createProgramRepo('website');
  const program = readFileSync(join(__dirname, '..', 'fixtures', 'program', 'index.ts'), 'utf8');
  repo.commit({
    'probe.sh': probe(data, temporalPort, apiPort),
    'index.ts': `import { execFileSync } from 'child_process';\nconsole.log(execFileSync('bash', ['probe.sh']).toString());\nconsole.log('program secret ' + process.env.CANARY_SECRET);\n${program}`,
  });
  // The pull request previewed below: its head is main's commit, on the example's branch.
  const opened = githubExample('pull_request', (p) => p.action === 'opened');
  execFileSync('git', ['-C', repo.bare, 'branch', opened.pull_request.head.ref, 'main']);
  // Pull requests are previewed for the stack whose branch is their base.
  execFileSync('git', ['-C', repo.bare, 'branch', opened.pull_request.base.ref, 'main']);
  const head = execFileSync('git', ['-C', repo.bare, 'rev-parse', 'main']).toString().trim();
  const res = await sw.api(`${stack}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoURL: repo.url, branch: opened.pull_request.base.ref } },
      operationContext: {
        environmentVariables: { OUT_DIR: newOutDir(), CANARY_SECRET: { secret: CANARY } },
        preRunCommands: ['bash probe.sh', `echo "${COMMAND_MARKER}: the secret is $CANARY_SECRET"`],
      },
      gitHub: { repository: REPOSITORY, previewPullRequests: true },
    },
  });
  expect(res.status).toBe(200);
  ({ id, version } = (await sw.api(`${stack}/deployments`, { method: 'POST', body: { operation: 'update' } })).body);
  const d = await waitForDeployment(sw, stack, id);
  log = (await readAllLogs(sw, stack, id)).map((l) => l.line ?? '').join('');
  expect([d.status, d.message]).toEqual(['succeeded', undefined]);
  const preRun = d.jobs[0].steps.findIndex((s: { name: string }) => s.name === 'Pre-run command 1');
  preRunLog = (await sw.api(`${stack}/deployments/${id}/logs?step=${preRun}&count=499`)).body.lines.map((l: { line?: string }) => l.line ?? '').join('');

  // A pull request preview: its commit status and comment (with the program's output) go to the git host.
  const body = JSON.stringify(retarget(opened, { cloneUrl: repo.url, commits: { [opened.pull_request.head.sha]: head } }));
  const res2 = await fetch(`${sw.url}/api/webhooks/github`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'pull_request', 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': await sign(GITHUB_SECRET, body) },
    body,
  });
  const answer = (await res2.json()) as { deployments: { id: string; version: number }[] };
  expect([res2.status, answer]).toEqual([202, expect.objectContaining({ deployments: [expect.anything()] })]);
  const preview = await waitForDeployment(sw, stack, answer.deployments[0].id);
  previewVersion = answer.deployments[0].version;
  expect(preview.status).toBe('succeeded');
  for (let i = 0; i < 100 && !host.comments.get(`${REPOSITORY}#${opened.number}`)?.[0]?.body.includes('succeeded'); i++) await new Promise((r) => setTimeout(r, 200));
});
afterAll(async () => {
  await sw?.stop();
  await host?.close();
});

test('the pre-run command and the program obtain nothing', () => {
  console.log(`What the probes printed:\n${log.split('\n').filter((l) => /GOT|PROBE DONE/.test(l)).join('\n')}`);
  // Both probes ran to the end: as the pre-run command and inside the Pulumi program (whose output Pulumi shows twice).
  expect(log.match(/PROBE DONE as uid 65534 home \S+\/work\/\S+\/home/g)?.length).toBeGreaterThanOrEqual(2);
  expect(preRunLog).toMatch(/PROBE DONE as uid 65534/);
  expect(log).toMatch(/Stack website-dev creating \(\d+s\) PROBE DONE/);
  expect(log).not.toContain('GOT ');
  for (const secret of [sw.config.token, sw.config.secretsKey.toString('base64'), sw.config.pulumiPassphrase]) expect(log).not.toContain(secret);
});

test('the secret is nowhere in clear: API answers, logs, database, Temporal history, Pulumi state, work dirs, npm start, the git host', async () => {
  expect(log).toContain(`${COMMAND_MARKER}: the secret is [secret]`);
  expect(log).toContain('program secret [secret]');

  // What `npm start` printed (supervisor, Temporal, worker and API at debug level).
  expect(sw.output().length).toBeGreaterThan(1000);
  expect(sw.output()).not.toContain(CANARY);

  // The pull request's comment carries the program's output, masked; statuses and comments hold no secret.
  const comment = [...host.comments.values()].flat().map((c) => c.body).join('\n');
  expect(comment).toContain('program secret [secret]');
  expect(host.calls.some((c) => c.path.includes('/statuses/'))).toBe(true);
  expect(JSON.stringify(host.calls)).not.toContain(CANARY);
  const answers = await Promise.all(
    [`${stack}/deployments/settings`, `${stack}/deployments/${id}`, `${stack}/deployments`, `${stack}/deployments/${id}/logs`].map((p) => sw.api(p)),
  );
  for (const a of answers) expect(JSON.stringify(a.body)).not.toContain(CANARY);

  const temporal = resolveTools().temporalCli;
  const address = temporalAddress;
  for (const workflowId of [stackWorkflowId(ref), deploymentWorkflowId(ref, version), deploymentWorkflowId(ref, previewVersion)]) {
    const history = execFileSync(temporal, ['workflow', 'show', '--address', address, '--workflow-id', workflowId, '--output', 'json']).toString();
    expect(history.length).toBeGreaterThan(1000);
    for (const s of [CANARY, COMMAND_MARKER]) {
      expect(history).not.toContain(s);
      expect(payloadData(history)).not.toContain(s);
    }
  }

  // An operator decodes them through the API's codec endpoint: readable, the secret still sealed.
  // Asynchronously: the codec endpoint is served by this very process.
  const { stdout: decoded } = await promisify(execFile)(temporal, [
    'workflow', 'show', '--address', address, '--workflow-id', deploymentWorkflowId(ref, version), '--output', 'json',
    '--codec-endpoint', `${sw.url}/codec`, '--codec-auth', `token ${sw.config.token}`,
  ]);
  // The deployment's input: ids, operation and a plan; no settings, commands or repository.
  expect(payloadData(decoded)).toContain(`"id":"${id}"`);
  expect(payloadData(decoded)).toContain('"plan":{');
  for (const s of [CANARY, COMMAND_MARKER, '"settings"', 'repoURL', 'program.git']) expect(payloadData(decoded)).not.toContain(s);

  // The database (and its WAL), Pulumi state, work and sandbox dirs: every file under the data dir.
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(p);
      else if (st?.isFile()) files.push(p);
    }
  };
  walk(sw.config.dataDir);
  expect(files.some((f) => f.includes(join('stacks', org, 'website', 'dev')))).toBe(true);
  // A finished deployment's workspace may be being removed meanwhile: a file gone is skipped.
  const holds = (f: string) => {
    try {
      return readFileSync(f).includes(CANARY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  };
  expect(files.filter(holds)).toEqual([]);
});
