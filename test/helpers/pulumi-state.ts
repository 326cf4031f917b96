import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveTools } from '../../src/tools';
import { stackPassphrase, stackStateDir } from '../../src/activities/stack-state';
import type { Stackwright } from './stackwright';

/** Lock files the file backends of an organization's stacks hold (each stack has its own backend). */
export function lockFiles(sw: Pick<Stackwright, 'config'>, org: string): string[] {
  const dir = join(sw.config.dataDir, 'stacks', org);
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((f) => f.includes('/.pulumi/locks/') && f.endsWith('.json')) : [];
}

/** The stack's state as `pulumi stack export` prints it, read with the same CLI and backend. */
export function exportStack(sw: Pick<Stackwright, 'config'>, org: string, project: string, stack: string): { deployment: { resources?: { urn: string }[]; pending_operations?: unknown[] } } {
  const out = execFileSync(join(resolveTools().pulumiRoot, 'bin', 'pulumi'), ['stack', 'export', '--stack', `organization/${project}/${stack}`], {
    env: {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${stackStateDir(sw.config.dataDir, { org, project, stack })}`,
      // Stacks created by the tests have their own passphrase.
      PULUMI_CONFIG_PASSPHRASE: stackPassphrase(sw.config.secretsKey, { org, project, stack }),
      PULUMI_HOME: join(sw.config.dataDir, 'pulumi-home'),
      PULUMI_SKIP_UPDATE_CHECK: 'true',
    },
  });
  return JSON.parse(out.toString());
}

/** Polls the logs API until `pattern` appears (e.g. Pulumi inside a resource's create). */
export async function waitForLog(sw: Pick<Stackwright, 'api'>, stackPath: string, id: string, pattern: RegExp, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = (await sw.api(`${stackPath}/deployments/${id}`)).body;
    let text = '';
    for (let step = 0; step < d.jobs[0].steps.length; step++) {
      const { body } = await sw.api(`${stackPath}/deployments/${id}/logs?step=${step}&count=499`);
      text += body.lines.map((l: { line?: string }) => l.line ?? '').join('');
    }
    if (pattern.test(text)) return;
    if (['succeeded', 'failed', 'skipped'].includes(d.status)) throw new Error(`deployment ended (${d.status}) before ${pattern}:\n${text}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the log:\n${text}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
