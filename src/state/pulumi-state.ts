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
    const dir = this.historyDir(ref);
    const out: UpdateRecord[] = [];
    for (const name of historyFiles(await readdir(dir).catch(() => [] as string[]))) {
      const info = await readUpdate(dir, name);
      if (info) out.push({ ...info, updateID: updateIdOf(name), version: out.length + 1 });
    }
    return out;
  }

  /** Where the stack's history files are (the API reads them through HistoryCache). */
  historyDir(ref: StackRef): string {
    return join(this.root, 'history', ref.project, ref.stack);
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

/** The history files among a directory's entries, oldest first (each name's timestamp parsed once). */
export function historyFiles(names: string[]): string[] {
  return names
    .filter((n) => /\.history\.json(\.gz)?$/.test(n))
    .map((name) => ({ name, at: timestampOf(name) }))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.name.localeCompare(b.name)))
    .map((f) => f.name);
}

/** A history file's update id: its name without the extension. */
export const updateIdOf = (name: string): string => name.replace(/\.history\.json(\.gz)?$/, '');

/** One history file (`name` as listed, gzipped or not). */
export const readUpdate = (dir: string, name: string): Promise<UpdateFile | undefined> => readJson<UpdateFile>(join(dir, name.replace(/\.gz$/, '')));

/** History files are `<stack>-<unix nanoseconds>.history.json`: order by the number, not the text. */
const timestampOf = (name: string): bigint => BigInt(/-(\d+)\.history\.json/.exec(name)?.[1] ?? '0');

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
