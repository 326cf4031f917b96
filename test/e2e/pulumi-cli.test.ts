import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LocalWorkspace, PulumiCommand, Stack, type LocalWorkspaceOptions } from '@pulumi/pulumi/automation';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { resolveTools } from '../../src/tools';

// Pulumi's own clients against a running Stackwright: the `pulumi` CLI the project builds (login,
// stack init, deployment settings/run/list/get/log/cancel, up --remote, stack output/history) and
// an Automation API remote workspace. Each step asserts the effect, not only the exit code.
const run = promisify(execFile);
const CANARY = 'sw-cli-canary-6Yh2pQ';
const SECRET_OUT = 'sw-cli-output-4Kd9';
const org = `cli${Date.now().toString(36)}`;
const fq = `${org}/website/dev`;
const stackPath = `/api/stacks/${fq}`;

let sw: Stackwright;
let repo: TestRepo;
let outDir: string;
let project: string; // a directory holding the project's Pulumi.yaml, as 3.248.0 wants for some commands
let env: NodeJS.ProcessEnv;
const pulumiRoot = resolveTools().pulumiRoot;
// Deployments that inherit the settings link the program's dependencies from Stackwright's own
// node_modules (the same @pulumi/pulumi) instead of installing them; `up --remote` installs for real.
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;

/** Runs the real CLI; resolves with its output whatever the exit code, so failures show what it printed. */
async function pulumi(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await run(join(pulumiRoot, 'bin', 'pulumi'), args, { cwd: project, env: { ...env, ...extraEnv }, maxBuffer: 64 * 1024 * 1024, timeout: 400_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function ok(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await pulumi(args, extraEnv);
  if (r.code !== 0) throw new Error(`pulumi ${args.join(' ')} exited ${r.code}:\n${r.out}`);
  return r.out;
}

const latest = async () => (await sw.api(`${stackPath}/deployments?pageSize=1`)).body.deployments[0];

beforeAll(async () => {
  sw = await startStackwright();
  repo = createProgramRepo('website');
  outDir = mkdtempSync(join(tmpdir(), 'stackwright-cli-out-'));
  project = mkdtempSync(join(tmpdir(), 'stackwright-cli-project-'));
  writeFileSync(join(project, 'Pulumi.yaml'), 'name: website\nruntime: nodejs\n');
  env = {
    PATH: process.env.PATH,
    HOME: project,
    PULUMI_HOME: mkdtempSync(join(tmpdir(), 'stackwright-cli-home-')),
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_ACCESS_TOKEN: sw.token,
  };
});
afterAll(async () => sw?.stop());

test('login against the server root, and stack init', async () => {
  expect(await ok(['login', sw.url])).toContain(`Logged in to ${sw.url} as`);
  expect(await ok(['whoami'])).toMatch(/\S/);
  await ok(['stack', 'init', fq]);
  expect((await sw.api(`${stackPath}/deployments/settings`)).status).toBe(200);
  // The stack now exists for the CLI's GET /api/stacks/{org}/{project}/{stack}.
  const got = await sw.api(stackPath);
  expect(got.body).toMatchObject({ orgName: org, projectName: 'website', stackName: 'dev' });
});

test('settings edit and get; the secret never comes back in clear', async () => {
  const out = await ok([
    'deployment', 'settings', 'edit', '--stack', fq,
    '--git-url', repo.url, '--branch', 'main',
    '--env', `OUT_DIR=${outDir}`, '--env', 'GREETING=hi',
    '--secret-env', `API_SECRET=${CANARY}`,
    '--pre-run-command', linkDependencies, '--pre-run-command', 'echo pre-run says hello', '--skip-install-deps',
  ]);
  expect(out).not.toContain(CANARY);
  const stored = (await sw.api(`${stackPath}/deployments/settings`)).body;
  expect(stored.sourceContext.git).toEqual({ repoURL: repo.url, branch: 'main' });
  expect(stored.operationContext.preRunCommands).toEqual([linkDependencies, 'echo pre-run says hello']);
  expect(stored.operationContext.options).toMatchObject({ skipInstallDependencies: true });
  expect(stored.operationContext.environmentVariables).toEqual({ OUT_DIR: outDir, GREETING: 'hi', API_SECRET: { ciphertext: expect.stringMatching(/^v1:/) } });
  expect(JSON.stringify(stored)).not.toContain(CANARY);

  const json = JSON.parse(await ok(['deployment', 'settings', 'get', '--stack', fq, '--output', 'json']));
  expect(json.source).toMatchObject({ repository: repo.url, branch: 'main' });
  expect(JSON.stringify(json)).not.toContain(CANARY);

  await ok(['deployment', 'settings', 'edit', '--stack', fq, '--remove-env', 'GREETING']);
  expect(Object.keys((await sw.api(`${stackPath}/deployments/settings`)).body.operationContext.environmentVariables).sort()).toEqual(['API_SECRET', 'OUT_DIR']);
});

test('deployment run update streams the logs to the end; list, get and log show it', async () => {
  // Implicit login: only PULUMI_BACKEND_URL and the token, with a fresh PULUMI_HOME.
  const fresh = { PULUMI_BACKEND_URL: sw.url, PULUMI_HOME: mkdtempSync(join(tmpdir(), 'stackwright-cli-home-')) };
  const out = await ok(['deployment', 'run', 'update', '--stack', fq, '--suppress-stream-logs=false', '--env', `SECRET_OUTPUT=${SECRET_OUT}`], fresh);
  for (const text of ['Get source:', 'Pre-run command 1:', 'Pre-run command 2:', 'pre-run says hello', 'Pulumi operation:', '+ 2 created']) expect(out).toContain(text);
  expect(out).toContain('the api secret is [secret]');
  expect(out).not.toContain(CANARY);
  expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('hello from dev');
  const d = await latest();
  expect(d).toMatchObject({ status: 'succeeded', pulumiOperation: 'update', version: 1 });
  expect(d.updates).toEqual([expect.objectContaining({ kind: 'update', result: 'succeeded', version: 1 })]);

  expect(await ok(['deployment', 'list', '--stack', fq])).toMatch(new RegExp(`${d.id}.*update.*succeeded`));
  const byId = await ok(['deployment', 'get', d.id, '--stack', fq]);
  expect(byId).toMatch(/Status:\s+succeeded/);
  expect(byId).toMatch(/Updates:\s+1/);
  expect(await ok(['deployment', 'get', '1', '--stack', fq])).toContain(d.id);
  expect(await ok(['deployment', 'log', d.id, '--stack', fq, '--all'])).toContain('+ 2 created');

  // The stack's outputs and history come from the backend the deployment wrote to; the secret
  // output is decrypted by the server for --show-secrets and hidden otherwise.
  const outputs = await ok(['stack', 'output', '--stack', fq, '--json']);
  expect(JSON.parse(outputs)).toEqual({ filePath: join(outDir, 'hello.txt'), secretOutput: '[secret]' });
  expect(JSON.parse(await ok(['stack', 'output', '--stack', fq, '--json', '--show-secrets'])).secretOutput).toBe(SECRET_OUT);
  const history = JSON.parse(await ok(['stack', 'history', '--stack', fq, '--json']));
  expect(history).toEqual([expect.objectContaining({ kind: 'update', result: 'succeeded', version: 1 })]);
});

test('deployment run preview, refresh, detect-drift and remediate-drift', async () => {
  const preview = await ok(['deployment', 'run', 'preview', '--stack', fq, '--suppress-stream-logs=false', '--git-branch', 'main', '--pre-run-command', linkDependencies, '--pre-run-command', 'echo overridden pre-run']);
  expect(preview).toContain('overridden pre-run');
  expect(await latest()).toMatchObject({ status: 'succeeded', pulumiOperation: 'preview' });

  await ok(['deployment', 'run', 'refresh', '--stack', fq, '--suppress-stream-logs=false']);
  expect(await latest()).toMatchObject({ status: 'succeeded', pulumiOperation: 'refresh' });

  writeFileSync(join(outDir, 'hello.txt'), 'changed by hand');
  const detect = await ok(['deployment', 'run', 'detect-drift', '--stack', fq, '--suppress-stream-logs=false']);
  expect(detect).toContain('pulumi refresh --preview-only');
  expect((await sw.api(`${stackPath}/drift/status`)).body.driftDetected).toBe(true);
  await ok(['deployment', 'run', 'remediate-drift', '--stack', fq, '--suppress-stream-logs=false']);
  expect(readFileSync(join(outDir, 'hello.txt'), 'utf8')).toBe('hello from dev');
});

test('deployment cancel of a queued deployment', async () => {
  expect((await sw.api(`${stackPath}/deployments/pause`, { method: 'POST' })).status).toBe(200);
  try {
    await ok(['deployment', 'run', 'update', '--stack', fq]); // logs suppressed: returns once queued
    const queued = await latest();
    expect(queued.status).toBe('not-started');
    expect(await ok(['deployment', 'cancel', queued.id, '--stack', fq, '--yes'])).toContain(queued.id);
    // The cancel reaches the stack's queue as a signal: the record follows a moment later.
    expect((await waitForDeployment(sw, stackPath, queued.id, 60_000)).status).toBe('skipped');
  } finally {
    expect((await sw.api(`${stackPath}/deployments/resume`, { method: 'POST' })).status).toBe(200);
  }
});

test('up --remote with --remote-* flags, from a directory holding Pulumi.yaml', async () => {
  const other = mkdtempSync(join(tmpdir(), 'stackwright-cli-remote-'));
  const out = await ok(
    ['up', '--remote', repo.url, '--remote-git-branch', 'main', '--remote-env', `OUT_DIR=${other}`, '--remote-env-secret', `API_SECRET=${CANARY}`, '--remote-skip-install-dependencies=false', '--stack', fq, '--yes'],
    { PULUMI_EXPERIMENTAL: 'true' },
  );
  // Settings are not inherited (--remote-inherit-settings is off): the request's own source, a real install.
  expect(out).toContain('Install dependencies:');
  expect(out).toContain('Pulumi operation:');
  expect(out).not.toContain(CANARY);
  expect(readFileSync(join(other, 'hello.txt'), 'utf8')).toBe('hello from dev');
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(false); // replaced: the old path was deleted
  const d = await latest();
  expect(d).toMatchObject({ status: 'succeeded', pulumiOperation: 'update', initiator: 'automation-api' });
  // The remote request carried its own source and a secret env var; stored settings are unchanged.
  expect((await sw.api(`${stackPath}/deployments/settings`)).body.operationContext.environmentVariables.OUT_DIR).toBe(outDir);
  outDir = other;
});

test('an Automation API remote workspace: up and outputs()', async () => {
  // RemoteWorkspace's temporary directory has no Pulumi.yaml, which 3.248.0 needs: a LocalWorkspace
  // over a directory that holds one, with the remote options RemoteWorkspace would set.
  const other = mkdtempSync(join(tmpdir(), 'stackwright-cli-auto-'));
  const opts = {
    workDir: project,
    pulumiCommand: await PulumiCommand.get({ root: pulumiRoot, skipVersionCheck: true }),
    envVars: { ...env, PULUMI_BACKEND_URL: sw.url, PULUMI_EXPERIMENTAL: 'true' } as Record<string, string>,
    remote: true,
    remoteGitProgramArgs: { stackName: fq, url: repo.url, branch: 'main' },
    remoteEnvVars: { OUT_DIR: other, SECRET_OUTPUT: { secret: SECRET_OUT } },
    remotePreRunCommands: [linkDependencies],
    remoteSkipInstallDependencies: true,
  } as LocalWorkspaceOptions;
  const stack = await Stack.createOrSelect(fq, await LocalWorkspace.create(opts));
  const up = await stack.up();
  expect(up.summary.result).toBe('succeeded');
  expect(readFileSync(join(other, 'hello.txt'), 'utf8')).toBe('hello from dev');
  expect(await stack.outputs()).toEqual({
    filePath: { value: join(other, 'hello.txt'), secret: false },
    secretOutput: { value: SECRET_OUT, secret: true },
  });
  outDir = other;
});

test('deployment run destroy removes what the stack made', async () => {
  await ok(['deployment', 'run', 'destroy', '--stack', fq, '--suppress-stream-logs=false']);
  expect(await latest()).toMatchObject({ status: 'succeeded', pulumiOperation: 'destroy' });
  expect(existsSync(join(outDir, 'hello.txt'))).toBe(false);
  expect(JSON.parse(await ok(['stack', 'output', '--stack', fq, '--json']))).toEqual({});
});

test('a field Stackwright cannot honour is refused by name', async () => {
  const r = await pulumi(['deployment', 'run', 'update', '--stack', fq, '--executor-image', 'pulumi/pulumi:latest']);
  expect(r.code).not.toBe(0);
  expect(r.out).toContain('executorContext.executorImage');
});

test('settings pull, push and destroy', async () => {
  await ok(['deployment', 'settings', 'pull', '--stack', fq]);
  const file = join(project, 'Pulumi.dev.deploy.yaml');
  const pulled = readFileSync(file, 'utf8');
  expect(pulled).toContain(repo.url);
  expect(pulled).toMatch(/ciphertext: v1:/);
  expect(pulled).not.toContain(CANARY);
  writeFileSync(file, pulled.replace('echo pre-run says hello', 'echo pushed back'));
  await ok(['deployment', 'settings', 'push', '--stack', fq, '--yes']);
  const pushed = (await sw.api(`${stackPath}/deployments/settings`)).body;
  expect(pushed.operationContext.preRunCommands).toEqual([linkDependencies, 'echo pushed back']);
  expect(pushed.operationContext.environmentVariables.API_SECRET).toEqual({ ciphertext: expect.stringMatching(/^v1:/) });
  await ok(['deployment', 'settings', 'destroy', '--stack', fq, '--yes']);
  expect((await sw.api(`${stackPath}/deployments/settings`)).status).toBe(404);
});
