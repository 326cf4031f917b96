import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { newOutDir, readAllLogs, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { startFakeGitHost, type FakeGitHost } from '../helpers/fake-git-host';
import { githubExample, retarget } from '../helpers/webhook-examples';

// The per-stack compile cache of sandboxed TypeScript programs, through the real API, Temporal, git
// and pulumi: a later deployment of the stack runs what an earlier one compiled, and a pull request's
// preview, which runs the request's code on the stack, neither reads nor writes it.
const GITHUB_SECRET = 'compile-cache-webhook-secret-0123';
const REPOSITORY = 'Codertocat/Hello-World';
const MARKER = 'compiled output served from the stack cache';
const org = `cc${Date.now().toString(36)}`;
const stack = `/api/stacks/${org}/website/dev`;
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;

let sw: Stackwright;
let host: FakeGitHost;
let repo: TestRepo;

beforeAll(async () => {
  host = await startFakeGitHost();
  sw = await startStackwright({ STACKWRIGHT_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET, STACKWRIGHT_GITHUB_API_URL: host.githubUrl, STACKWRIGHT_GITHUB_TOKEN: 'ghp_compile_cache' });
  repo = createProgramRepo('website');
}, 600_000);
afterAll(async () => {
  await sw?.stop();
  await host?.close();
});

async function logOf(id: string): Promise<string> {
  const d = await waitForDeployment(sw, stack, id, 400_000);
  const text = (await readAllLogs(sw, stack, id)).map((l) => l.line ?? '').join('');
  expect({ status: d.status, text: d.status === 'succeeded' ? '' : text }).toEqual({ status: 'succeeded', text: '' });
  return text;
}

const update = async () => logOf((await sw.api(`${stack}/deployments`, { method: 'POST', body: { operation: 'update' } })).body.id);

/** Every file of the stack's compile cache with its size and mtime. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => `${f} ${statSync(f).size} ${statSync(f).mtimeMs}`)
    .sort();
}

test("a stack's next deployment runs what the last one compiled; a pull request's preview does not touch it", async () => {
  const opened = githubExample('pull_request', (p) => p.action === 'opened');
  execFileSync('git', ['-C', repo.bare, 'branch', opened.pull_request.base.ref, 'main']);
  execFileSync('git', ['-C', repo.bare, 'branch', opened.pull_request.head.ref, 'main']);
  const settings = await sw.api(`${stack}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoURL: repo.url, branch: opened.pull_request.base.ref } },
      operationContext: { environmentVariables: { OUT_DIR: newOutDir() }, preRunCommands: [linkDependencies], options: { skipInstallDependencies: true } },
      gitHub: { repository: REPOSITORY, previewPullRequests: true },
    },
  });
  expect(settings.status).toBe(200);
  await update();

  // ts-node names an entry by the hash of the source's extension and text.
  const cacheDir = join(sw.config.dataDir, 'compile-cache', org, 'website', 'dev');
  const source = readFileSync(join(__dirname, '..', 'fixtures', 'program', 'index.ts'), 'utf8');
  const name = `${createHash('sha256').update('.ts').update('\0').update(source).digest('hex')}.js`;
  const entry = readdirSync(cacheDir)
    .map((d) => join(cacheDir, d, name))
    .find((f) => existsSync(f));
  expect(entry).toBeDefined();
  // The compiled program, changed where the source cannot see it: only a run that takes it from the cache prints this.
  writeFileSync(entry!, `console.log(${JSON.stringify(MARKER)});\n${readFileSync(entry!, 'utf8')}`);
  expect(await update()).toContain(MARKER);

  const before = listing(cacheDir);
  const head = execFileSync('git', ['-C', repo.bare, 'rev-parse', 'main']).toString().trim();
  const body = JSON.stringify(retarget(opened, { cloneUrl: repo.url, commits: { [opened.pull_request.head.sha]: head } }));
  const res = await fetch(`${sw.url}/api/webhooks/github`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'pull_request', 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': await sign(GITHUB_SECRET, body) },
    body,
  });
  const answer = (await res.json()) as { deployments: { id: string }[] };
  expect([res.status, answer.deployments.length]).toEqual([202, 1]);
  const preview = await logOf(answer.deployments[0].id);
  // The same program, compiled afresh: the preview ran (its output is there) without the stack's cache.
  expect(preview).toMatch(/Previewing update/);
  expect(preview).not.toContain(MARKER);
  expect(listing(cacheDir)).toEqual(before);
}, 900_000);
