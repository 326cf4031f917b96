import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { historyFiles, readUpdate, updateIdOf, type UpdateFile, type UpdateRecord } from './pulumi-state';

interface Listing {
  mtimeMs: number;
  /** Files read so far, by name: Pulumi writes a history file once and never changes it. */
  files: Map<string, UpdateFile | undefined>;
  updates: UpdateRecord[];
}

/**
 * Stacks' update histories (every update of a stack, oldest first), read as they grow. Each
 * history file is parsed once; the directory is listed again only when its modification time
 * changed, or is recent enough that a file added in the same clock tick would not have changed it.
 * Without it every read of a deployment parses every update the stack ever made.
 */
export class HistoryCache {
  private readonly dirs = new Map<string, Listing>();
  /** Listings under way: requests arriving meanwhile wait for the same one. */
  private readonly pending = new Map<string, Promise<Listing>>();

  constructor(private readonly o: { maxStacks: number; racyMs: number; now: () => number } = { maxStacks: 200, racyMs: 2_000, now: Date.now }) {}

  async history(dir: string): Promise<UpdateRecord[]> {
    // Synchronous: a stat is a few microseconds, and a missing directory throws no error this way.
    const st = statSync(dir, { throwIfNoEntry: false });
    if (!st?.isDirectory()) {
      this.dirs.delete(dir);
      return [];
    }
    const known = this.dirs.get(dir);
    this.dirs.delete(dir); // re-inserted below: the Map's order is least recently used first
    const fresh = known && known.mtimeMs === st.mtimeMs && this.o.now() - st.mtimeMs > this.o.racyMs;
    const listing = fresh ? known : await this.listOnce(dir, st.mtimeMs, known);
    this.dirs.set(dir, listing);
    if (this.dirs.size > this.o.maxStacks) this.dirs.delete(this.dirs.keys().next().value!);
    return [...listing.updates]; // callers may reorder their copy
  }

  private listOnce(dir: string, mtimeMs: number, known: Listing | undefined): Promise<Listing> {
    let listing = this.pending.get(dir);
    if (!listing) {
      listing = this.list(dir, mtimeMs, known).finally(() => this.pending.delete(dir));
      this.pending.set(dir, listing);
    }
    return listing;
  }

  private async list(dir: string, mtimeMs: number, known: Listing | undefined): Promise<Listing> {
    const files = new Map<string, UpdateFile | undefined>();
    const updates: UpdateRecord[] = [];
    for (const name of historyFiles(await readdir(dir).catch(() => [] as string[]))) {
      const info = known?.files.has(name) ? known.files.get(name) : await readUpdate(dir, name);
      files.set(name, info);
      if (info) updates.push({ ...info, updateID: updateIdOf(name), version: updates.length + 1 });
    }
    return { mtimeMs, files, updates };
  }
}
