import { readFileSync } from 'node:fs';

// Real GitHub payloads from @octokit/webhooks-examples, never hand-written ones.
interface ExampleSet {
  name: string;
  examples: Record<string, unknown>[];
}
let sets: ExampleSet[] | undefined;

/** A copy of the first example of `event` that `pick` accepts. */
export function githubExample(event: string, pick: (p: any) => boolean = () => true): any {
  sets ??= JSON.parse(readFileSync(require.resolve('@octokit/webhooks-examples/api.github.com/index.json'), 'utf8')) as ExampleSet[];
  const found = sets.find((s) => s.name === event)?.examples.find(pick);
  if (!found) throw new Error(`no ${event} example matches`);
  return structuredClone(found);
}

/**
 * Points a payload at a local repository: every commit id in `commits` (old id → new id) and the
 * repository's clone URL are replaced; nothing else changes.
 */
export function retarget(payload: any, o: { cloneUrl: string; commits: Record<string, string> }): any {
  let json = JSON.stringify(payload);
  for (const [from, to] of Object.entries(o.commits)) json = json.split(from).join(to);
  const out = JSON.parse(json);
  out.repository.clone_url = o.cloneUrl;
  return out;
}
