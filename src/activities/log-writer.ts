import type { Store } from '../store/store';
import type { Masker } from './masker';

/**
 * Collects one step's output and writes it to the store in small batches as it arrives, so a
 * crash loses at most the last fraction of a second. Lines are masked before they are stored.
 */
export class LogWriter {
  private pending: { seq: number; ts: string; line: string }[] = [];
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    private readonly deploymentId: string,
    private readonly step: number,
    private readonly masker: Masker,
    private seq: number,
  ) {}

  /** Continues after lines an earlier attempt of the same step already wrote. */
  static async open(store: Store, deploymentId: string, step: number, masker: Masker): Promise<LogWriter> {
    return new LogWriter(store, deploymentId, step, masker, await store.countLogs(deploymentId, step));
  }

  /** Raw output: split into lines, keeping an unfinished line until its end arrives. */
  write(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.push(l);
  }

  /** A line of our own: output still waiting for its line end goes first, so the order stays true. */
  line(text: string): void {
    if (this.partial) this.push(this.partial);
    this.partial = '';
    this.push(text);
  }

  private push(text: string): void {
    this.pending.push({ seq: this.seq++, ts: new Date().toISOString(), line: this.masker.mask(text.replace(/\r$/, '')) + '\n' });
    if (this.pending.length >= 200) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), 200);
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    // Chained so batches land in order even when a flush is slow.
    this.flushing = this.flushing.then(() => this.store.appendLogs(this.deploymentId, this.step, batch));
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.partial) this.push(this.partial);
    this.partial = '';
    await this.flush();
  }
}
