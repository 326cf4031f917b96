import type { Stackwright } from './stackwright';

const FINAL = ['succeeded', 'failed', 'skipped'];

/** Polls a deployment until it has `status`; fails early when it ends without reaching it. */
export async function waitForStatus(sw: Pick<Stackwright, 'api'>, stackPath: string, id: string, status: string, timeoutMs = 180_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await sw.api(`${stackPath}/deployments/${id}`);
    if (body?.status === status) return body;
    if (FINAL.includes(body?.status)) throw new Error(`deployment ended ${body.status} (${body.message}) before ${status}`);
    if (Date.now() > deadline) throw new Error(`deployment ${id} still ${body?.status}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A step's log as one string. */
export async function stepLog(sw: Pick<Stackwright, 'api'>, stackPath: string, id: string, step: number): Promise<string> {
  const { body } = await sw.api(`${stackPath}/deployments/${id}/logs?step=${step}&count=499`);
  return (body.lines as { line?: string }[]).map((l) => l.line ?? '').join('');
}
