import type { Store } from '../store/store';
import type { Masker } from './masker';

/**
 * Collects one step's output and writes it to the store as it arrives, so a crash loses at most
 * the last fraction of a second. The first line after a quiet spell is written at once (followers
 * see a step start without delay); lines that follow it are gathered for 200 ms per write. Lines
 * are masked before they are stored.
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
    if (this.pending.length >= 200) void this.persist();
    else if (!this.timer) {
      void this.persist();
      this.timer = setTimeout(this.tick, 200);
    }
  }

  /** End of a 200 ms window: write what it gathered and open another, or go quiet. */
  private readonly tick = () => {
    if (this.pending.length === 0) {
      this.timer = undefined;
      return;
    }
    void this.persist();
    this.timer = setTimeout(this.tick, 200);
  };

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.persist();
  }

  private persist(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return this.flushing;
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
