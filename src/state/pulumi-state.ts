import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { StackRef } from '../shared/names';

/**
 * Reads what Pulumi's file ("DIY") backend keeps for a stack, the backend every deployment writes
 * to: its checkpoint and its update history. Layout (project-scoped, Pulumi >= 3.61):
 * `.pulumi/stacks/<project>/<stack>.json[.gz]` and `.pulumi/history/<project>/<stack>/*.history.json[.gz]`.
 */
export class PulumiState {
  private constructor(private readonly root: string) {}

  /** undefined for a backend that is not a local directory. */
  static open(backendUrl: string): PulumiState | undefined {
    if (!backendUrl.startsWith('file://')) return undefined;
    const path = backendUrl.startsWith('file:///') ? fileURLToPath(backendUrl) : backendUrl.slice('file://'.length);
    return new PulumiState(join(path, '.pulumi'));
  }

  /** The stack's checkpoint file (`{version, checkpoint: {stack, config, latest}}`), if the stack has state. */
  async checkpoint(ref: StackRef): Promise<Checkpoint | undefined> {
    return readJson<Checkpoint>(join(this.root, 'stacks', ref.project, `${ref.stack}.json`));
  }

  /** Every update the backend recorded for the stack (previews are not recorded), oldest first. */
  async history(ref: StackRef): Promise<UpdateRecord[]> {
    const dir = join(this.root, 'history', ref.project, ref.stack);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /\.history\.json(\.gz)?$/.test(n)).sort(byTimestamp);
    const out: UpdateRecord[] = [];
    for (const name of names) {
      const info = await readJson<UpdateFile>(join(dir, name.replace(/\.gz$/, '')));
      if (info) out.push({ ...info, updateID: name.replace(/\.history\.json(\.gz)?$/, ''), version: out.length + 1 });
    }
    return out;
  }
}

export interface Checkpoint {
  version: number;
  checkpoint: { stack?: string; config?: Record<string, unknown>; latest?: Record<string, unknown> | null };
}

/** One history file: Pulumi's UpdateInfo (kind, startTime, endTime, result, message, environment, config, resourceChanges). */
export interface UpdateFile {
  kind: string;
  startTime: number;
  endTime: number;
  result: string;
  message?: string;
  environment?: Record<string, string>;
  config?: Record<string, unknown>;
  resourceChanges?: Record<string, number>;
  resourceCount?: number;
}

export interface UpdateRecord extends UpdateFile {
  /** The history file's name without its extension; unique per stack. */
  updateID: string;
  /** 1 for the stack's first update. */
  version: number;
}

/** History files are `<stack>-<unix nanoseconds>.history.json`: order by the number, not the text. */
function byTimestamp(a: string, b: string): number {
  const n = (s: string) => BigInt(/-(\d+)\.history\.json/.exec(s)?.[1] ?? '0');
  const d = n(a) - n(b);
  return d < 0n ? -1 : d > 0n ? 1 : a.localeCompare(b);
}

/** Reads `path` or, failing that, `path.gz` (the backend gzips when PULUMI_DIY_BACKEND_GZIP is set). */
async function readJson<T>(path: string): Promise<T | undefined> {
  for (const [file, unpack] of [
    [path, (b: Buffer) => b],
    [`${path}.gz`, gunzipSync],
  ] as const) {
    const raw = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (raw) return JSON.parse(unpack(raw).toString('utf8')) as T;
  }
  return undefined;
}
