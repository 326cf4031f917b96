import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { readAllLogs, startStackwright, waitForDeployment, type Stackwright, newOutDir } from '../helpers/stackwright';
import { deploymentWorkflowId } from '../../src/shared/ids';
import { startGitHttpServer } from '../helpers/git-http-server';

// Real API, real Temporal, real git, the built pulumi CLI: one stack taken through its life.
const SECRET = 'sw-canary-Zq8v3rT1';
const org = `e2e${Date.now().toString(36)}`;
const stack = `/api/stacks/${org}/website/dev`;

let sw: Stackwright;
let repo: TestRepo;
let outDir: string;

beforeAll(async () => {
  sw = await startStackwright();
  repo = createProgramRepo('website');
  outDir = newOutDir();
});
afterAll(async () => sw?.stop());

const deploy = async (body: object, path = stack) => {
  const res = await sw.api(`${path}/deployments`, { method: 'POST', body });
  expect(res.status).toBe(202);
  return res.body as { id: string; version: number; consoleUrl: string };
};

test('stores settings with the secret sealed', async () => {
  const res = await sw.api(`${stack}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoUrl: repo.url, branch: 'refs/heads/main' } },
      operationContext: {
        environmentVariables: { OUT_DIR: outDir, GREETING: 'hello', API_SECRET: { secret: SECRET } },
        preRunCommands: ['echo PRE_VAR=from-pre-run >> "$PULUMI_ENV"', 'echo "pre-run sees $PRE_VAR"'],
      },
    },
  });
  expect(res.status).toBe(200);
  expect(res.body.sourceContext.git.repoURL).toBe(repo.url);
  expect(res.body.operationContext.environmentVariables.API_SECRET).toEqual({ ciphertext: expect.stringMatching(/^v1:/) });
  const got = await sw.api(`${stack}/deployments/settings`);
  expect(JSON.stringify(got.body)).not.toContain(SECRET);
});

test('update runs every step, creates the file and keeps masked logs', async () => {
  const { id, version, consoleUrl } = await deploy({ operation: 'update' });
  expect(version).toBe(1);
  expect(consoleUrl).toContain(id);
  const d = await waitForDeployment(sw, stack, id);
  expect(d.message).toBeUndefined();
  expect(d.status).toBe('succeeded');
  expect(d.jobs[0].steps.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
    ['Get source', 'succeeded'],
    ['Install dependencies', 'succeeded'],
    ['Pre-run command 1', 'succeeded'],
    ['Pre-run command 2', 'succeeded'],
    ['Pulumi operation', 'succeeded'],
  ]);
  expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('hello from dev');

  const lines = await readAllLogs(sw, stack, id);
  expect(lines.filter((l) => l.header).map((l) => l.header)).toEqual(d.jobs[0].steps.map((s: { name: string }) => s.name));
  const text = lines.map((l) => l.line ?? '').join('');
  expect(text).toContain('Successfully cloned');
  expect(text).toContain('pre-run sees from-pre-run');
  expect(text).toContain('program output: the api secret is [secret]');
  expect(text).toContain('+ 2 created');
  expect(text).not.toContain(SECRET);

  // Neither the store nor Temporal's history holds the secret in clear.
  const rows = await sw.store.db.selectFrom('deployment_logs').select('line').execute();
  expect(rows.map((r) => r.line).join('')).not.toContain(SECRET);
  const history = await sw.temporal.workflow.getHandle(deploymentWorkflowId({ org, project: 'website', stack: 'dev' }, version)).fetchHistory();
  expect(JSON.stringify(history)).not.toContain(SECRET);
});

test('step-mode logs page through one step', async () => {
  const { deployments } = (await sw.api(`${stack}/deployments?pageSize=1`)).body;
  const first = await sw.api(`${stack}/deployments/${deployments[0].id}/logs?step=4&offset=0&count=2`);
  expect(first.status).toBe(200);
  expect(first.body.lines).toHaveLength(2);
  expect(first.body.nextOffset).toBe(2);
});

test('preview and refresh leave the file alone; destroy removes it', async () => {
  for (const operation of ['preview', 'refresh']) {
    const d = await waitForDeployment(sw, stack, (await deploy({ operation })).id);
    expect([operation, d.status]).toEqual([operation, 'succeeded']);
    expect(existsSync(join(outDir, 'hello.txt'))).toBe(true);
  }
  const d = await waitForDeployment(sw, stack, (await deploy({ operation: 'destroy' })).id);
  expect(d.status).toBe('succeeded');
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(false);
});

test('a second deployment waits until the first has ended', async () => {
  const slow = { operationContext: { environmentVariables: { CREATE_DELAY_MS: '3000' } } };
  const a = await deploy({ operation: 'update', ...slow });
  const b = await deploy({ operation: 'update', operationContext: { environmentVariables: { GREETING: 'second' } } });
  const [da, db] = [await waitForDeployment(sw, stack, a.id), await waitForDeployment(sw, stack, b.id)];
  expect([da.status, db.status]).toEqual(['succeeded', 'succeeded']);
  const aEnded = Math.max(...da.jobs[0].steps.map((s: { lastUpdated: string }) => Date.parse(s.lastUpdated)));
  expect(Date.parse(db.jobs[0].started)).toBeGreaterThanOrEqual(aEnded);
  expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('second from dev');

  const list = (await sw.api(`${stack}/deployments?pageSize=2`)).body;
  expect(list.deployments.map((x: { version: number }) => x.version)).toEqual([db.version, da.version]);
  expect(list.total).toBe(db.version);
});

test('a program whose Pulumi.yaml names another project fails with a clear message', async () => {
  const other = `/api/stacks/${org}/shop/dev`;
  const { id } = await deploy(
    { operation: 'preview', sourceContext: { git: { repoURL: repo.url, branch: 'main' } }, operationContext: { options: { skipInstallDependencies: true } } },
    other,
  );
  const d = await waitForDeployment(sw, other, id);
  expect(d.status).toBe('failed');
  expect(d.message).toContain("Pulumi.yaml names the project 'website'");
  expect(d.jobs[0].steps.map((s: { status: string }) => s.status)).toEqual(['failed', 'not-started']);
});

test('a private repository is cloned with sealed basic-auth credentials that never reach the logs', async () => {
  const password = 'sw-git-password-Kx81';
  const server = await startGitHttpServer({ root: dirname(repo.bare), username: 'deployer', password });
  try {
    const privateStack = `/api/stacks/${org}/website/private`;
    const settings = await sw.api(`${privateStack}/deployments/settings`, {
      method: 'PUT',
      body: {
        sourceContext: {
          git: { repoURL: `${server.url}/${basename(repo.bare)}`, branch: 'main', gitAuth: { basicAuth: { userName: 'deployer', password: { secret: password } } } },
        },
        operationContext: { environmentVariables: { OUT_DIR: outDir } },
      },
    });
    expect(settings.status).toBe(200);
    expect(JSON.stringify(settings.body)).not.toContain(password);
    const { id } = await deploy({ operation: 'preview' }, privateStack);
    const d = await waitForDeployment(sw, privateStack, id);
    expect([d.status, d.message]).toEqual(['succeeded', undefined]);
    const text = (await readAllLogs(sw, privateStack, id)).map((l) => l.line ?? '').join('');
    expect(text).toContain('Successfully cloned');
    expect(text).not.toContain(password);
  } finally {
    await server.close();
  }
});
