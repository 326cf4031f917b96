import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { readAllLogs, startStackwright, waitForDeployment, type Stackwright, newOutDir } from '../helpers/stackwright';
import { followLogs, linesOf, type SseEvent } from '../helpers/sse';

// Following a real deployment's log while it runs: JSON tokens, Server-Sent Events, a worker restart.
const org = `logs${Date.now().toString(36)}`;
const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;

let sw: Stackwright;
let repo: TestRepo;

beforeAll(async () => {
  // A cancelled Pulumi step may take this long to stop when the worker shuts down.
  sw = await startStackwright({ STACKWRIGHT_KILL_GRACE_SECONDS: '5' });
  repo = createProgramRepo('website');
});
afterAll(async () => sw?.stop());

/** An update on a fresh stack whose Pulumi step spends `delayMs` creating its one resource. */
async function slowUpdate(stack: string, delayMs: number): Promise<string> {
  const res = await sw.api(`${stackPath(stack)}/deployments`, {
    method: 'POST',
    body: {
      operation: 'update',
      sourceContext: { git: { repoURL: repo.url, branch: 'main' } },
      operationContext: { environmentVariables: { OUT_DIR: newOutDir(), CREATE_DELAY_MS: String(delayMs) } },
    },
  });
  expect(res.status).toBe(202);
  return res.body.id;
}

const isPulumiHeader = (e: SseEvent) => e.event === 'header' && JSON.parse(e.data!).header === 'Pulumi operation';
const status = async (stack: string, id: string) => (await sw.api(`${stackPath(stack)}/deployments/${id}`)).body.status;

test('a follower that drops midway resumes exactly; tokens handed out while running stay valid', async () => {
  const id = await slowUpdate('follow', 5000);
  const logsUrl = `${sw.url}${stackPath('follow')}/deployments/${id}/logs`;

  // A JSON reader polls in small pages all along, keeping every token it was given.
  const checkpoints: { token: string; read: number }[] = [];
  const polled: any[] = [];
  const polling = (async () => {
    let token: string | undefined;
    for (;;) {
      const { body } = await sw.api(`${stackPath('follow')}/deployments/${id}/logs?count=3${token ? `&continuationToken=${token}` : ''}`);
      polled.push(...body.lines);
      if (!body.nextToken) return;
      checkpoints.push({ token: body.nextToken, read: polled.length });
      if (body.lines.length === 0) await new Promise((r) => setTimeout(r, 150));
      token = body.nextToken;
    }
  })();

  const first = await followLogs(logsUrl, sw.token);
  const before = await first.readUntil(isPulumiHeader);
  expect(await status('follow', id)).toBe('running');
  await first.close();
  await new Promise((r) => setTimeout(r, 1000)); // lines keep coming while nobody listens

  const second = await followLogs(logsUrl, sw.token, before.at(-1)!.id);
  const after = await second.readUntil((e) => e.event === 'end');
  await polling;

  const d = await waitForDeployment(sw, stackPath('follow'), id);
  expect(d.status).toBe('succeeded');
  expect(JSON.parse(after.at(-1)!.data!)).toEqual({ status: 'succeeded' });
  const full = await readAllLogs(sw, stackPath('follow'), id);
  expect(full.filter((l) => l.header).map((l) => l.header)).toEqual(d.jobs[0].steps.map((s: { name: string }) => s.name));
  expect(full.map((l) => l.line ?? '').join('')).toContain('+ 2 created');
  expect([...linesOf(before), ...linesOf(after)]).toEqual(full);

  // Every token is a stable place: what follows it now is exactly what followed it then.
  expect(polled).toEqual(full);
  expect(checkpoints.some((c) => c.read < full.length / 2)).toBe(true);
  for (const c of checkpoints) expect(await readAllLogs(sw, stackPath('follow'), id, c.token)).toEqual(full.slice(c.read));

  // A stream may also start from a token in the URL, in the middle of the log.
  const mid = await followLogs(`${logsUrl}?continuationToken=${before[2].id}`, sw.token);
  expect(linesOf(await mid.readUntil((e) => e.event === 'end'))).toEqual(full.slice(3));

  // Step mode pages through each step alone and agrees with the stream.
  let start = 0;
  for (let step = 0; step < d.jobs[0].steps.length; step++) {
    start += 1; // the step's header
    const lines: any[] = [];
    let offset: number | undefined = 0;
    while (offset !== undefined) {
      const { body } = await sw.api(`${stackPath('follow')}/deployments/${id}/logs?job=0&step=${step}&offset=${offset}&count=4`);
      lines.push(...body.lines);
      offset = body.nextOffset;
    }
    expect(lines).toEqual(full.slice(start, start + lines.length));
    start += lines.length;
  }
  expect(start).toBe(full.length);
});

test('a stream survives a worker restart and ends once the deployment has', async () => {
  const id = await slowUpdate('restart', 4000);
  const events = await followLogs(`${sw.url}${stackPath('restart')}/deployments/${id}/logs`, sw.token);
  const before = await events.readUntil(isPulumiHeader);
  expect(await status('restart', id)).toBe('running');

  const restarted = sw.restartWorker();
  const after = await events.readUntil((e) => e.event === 'end');
  await restarted;

  const end = after.at(-1)!;
  expect(end.event).toBe('end');
  const d = await waitForDeployment(sw, stackPath('restart'), id, 5_000);
  expect(JSON.parse(end.data!).status).toBe(d.status);
  expect([...linesOf(before), ...linesOf(after)]).toEqual(await readAllLogs(sw, stackPath('restart'), id));
});
