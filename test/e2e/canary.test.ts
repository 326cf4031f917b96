import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProgramRepo } from '../helpers/repo';
import { readAllLogs, startStackwright, waitForDeployment, type Stackwright, newOutDir } from '../helpers/stackwright';
import { deploymentWorkflowId, stackWorkflowId } from '../../src/shared/ids';
import { resolveTools } from '../../src/tools';

// A hostile deployment: its pre-run command and its program try to take what Stackwright keeps
// from deployments, and print what they got. Then every sink is searched for its secret.
const CANARY = 'sw-canary-secret-7Kq2Vx9P';
// Not a secret, but it travels in workflow inputs: Temporal must only ever see it encrypted.
const COMMAND_MARKER = 'sw-canary-command-Jw4tB';
const org = `canary${Date.now().toString(36)}`;
const ref = { org, project: 'website', stack: 'dev' };
const stack = `/api/stacks/${org}/website/dev`;

let sw: Stackwright;
let id: string;
let version: number;
let log: string;
let preRunLog: string;

/** Prints `GOT <what>` for everything it manages to read or reach. */
const probe = (data: string, temporalPort: string, apiPort: string) => `
for f in ${data}/api-token ${data}/secrets.key ${data}/stackwright.db ${data}/pulumi-passphrase \\
         ${data}/stacks/${org}/other/dev/.pulumi/stacks/other/dev.json ${data}/state/${org}/.pulumi/meta.yaml \\
         ${data}/work/other-deployment/secret.txt; do
  if cat "$f" >/dev/null 2>&1; then echo "GOT file $f"; fi
done
ls ${data} 2>/dev/null | grep -v -e '^work$' -e '^stacks$' | sed 's/^/GOT listing /'
ls ${data}/stacks/${org} 2>/dev/null | grep -v '^website$' | sed 's/^/GOT stack /'
ls ${data}/work 2>/dev/null | grep -v "^$(basename "$(dirname "$PWD")")$" | grep -v "^$(basename "$PWD")$" | sed 's/^/GOT workspace /'
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
  sw = await startStackwright();
  const data = sw.config.dataDir;
  // What other stacks and deployments would have left in the data dir.
  mkdirSync(join(data, 'stacks', org, 'other', 'dev', '.pulumi', 'stacks', 'other'), { recursive: true });
  writeFileSync(join(data, 'stacks', org, 'other', 'dev', '.pulumi', 'stacks', 'other', 'dev.json'), '{"other": "state"}');
  mkdirSync(join(data, 'state', org, '.pulumi'), { recursive: true });
  writeFileSync(join(data, 'state', org, '.pulumi', 'meta.yaml'), 'version: 1\n');
  mkdirSync(join(data, 'work', 'other-deployment'), { recursive: true });
  writeFileSync(join(data, 'work', 'other-deployment', 'secret.txt'), 'other');

  const temporalPort = process.env.STACKWRIGHT_TEST_TEMPORAL_ADDRESS!.split(':').pop()!;
  const apiPort = new URL(sw.url).port;
  const repo = createProgramRepo('website');
  const program = readFileSync(join(__dirname, '..', 'fixtures', 'program', 'index.ts'), 'utf8');
  repo.commit({
    'probe.sh': probe(data, temporalPort, apiPort),
    'index.ts': `import { execFileSync } from 'child_process';\nconsole.log(execFileSync('bash', ['probe.sh']).toString());\n${program}`,
  });
  const res = await sw.api(`${stack}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoURL: repo.url, branch: 'main' } },
      operationContext: {
        environmentVariables: { OUT_DIR: newOutDir(), CANARY_SECRET: { secret: CANARY } },
        preRunCommands: ['bash probe.sh', `echo "${COMMAND_MARKER}: the secret is $CANARY_SECRET"`],
      },
    },
  });
  expect(res.status).toBe(200);
  ({ id, version } = (await sw.api(`${stack}/deployments`, { method: 'POST', body: { operation: 'update' } })).body);
  const d = await waitForDeployment(sw, stack, id);
  log = (await readAllLogs(sw, stack, id)).map((l) => l.line ?? '').join('');
  expect([d.status, d.message]).toEqual(['succeeded', undefined]);
  const preRun = d.jobs[0].steps.findIndex((s: { name: string }) => s.name === 'Pre-run command 1');
  preRunLog = (await sw.api(`${stack}/deployments/${id}/logs?step=${preRun}&count=499`)).body.lines.map((l: { line?: string }) => l.line ?? '').join('');
});
afterAll(async () => sw?.stop());

test('the pre-run command and the program obtain nothing', () => {
  console.log(`What the probes printed:\n${log.split('\n').filter((l) => /GOT|PROBE DONE/.test(l)).join('\n')}`);
  // Both probes ran to the end: as the pre-run command and inside the Pulumi program (whose output Pulumi shows twice).
  expect(log.match(/PROBE DONE as uid 65534 home \S+\/work\/\S+\/home/g)?.length).toBeGreaterThanOrEqual(2);
  expect(preRunLog).toMatch(/PROBE DONE as uid 65534/);
  expect(log).toMatch(/Stack website-dev creating \(\d+s\) PROBE DONE/);
  expect(log).not.toContain('GOT ');
  for (const secret of [sw.token, sw.config.secretsKey.toString('base64'), sw.config.pulumiPassphrase]) expect(log).not.toContain(secret);
});

test('the secret is nowhere in clear: API answers, logs, database, Temporal history, Pulumi state, work dirs', async () => {
  expect(log).toContain(`${COMMAND_MARKER}: the secret is [secret]`);
  const answers = await Promise.all(
    [`${stack}/deployments/settings`, `${stack}/deployments/${id}`, `${stack}/deployments`, `${stack}/deployments/${id}/logs`].map((p) => sw.api(p)),
  );
  for (const a of answers) expect(JSON.stringify(a.body)).not.toContain(CANARY);

  const temporal = resolveTools().temporalCli;
  const address = process.env.STACKWRIGHT_TEST_TEMPORAL_ADDRESS!;
  for (const workflowId of [stackWorkflowId(ref), deploymentWorkflowId(ref, version)]) {
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
    '--codec-endpoint', `${sw.url}/codec`, '--codec-auth', `token ${sw.token}`,
  ]);
  expect(payloadData(decoded)).toContain(COMMAND_MARKER);
  expect(payloadData(decoded)).not.toContain(CANARY);

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
  expect(files.filter((f) => readFileSync(f).includes(CANARY))).toEqual([]);
});
