import { createLogger } from '../logger';
import type { Masker } from './masker';
import { safeHeartbeat } from './run-process';

type Line = { seq: number; ts: string; line: string };

/** Where lines go: the store, or a runner pool worker's gateway to it. */
export interface LogSink {
  countLogs(id: string, step: number): Promise<number>;
  appendLogs(id: string, step: number, lines: Line[]): Promise<void>;
}

export interface LogWriterOptions {
  /** Lines kept while the store cannot be written; past this, lines are dropped and counted. */
  maxBuffered?: number;
  /** How long `close` waits for a store that keeps failing before it gives up on the rest. */
  closeTimeoutMs?: number;
  /** First and longest pause between attempts of a failed write. */
  retryMs?: { initial: number; max: number };
  /** How long lines that follow a first one are gathered per write. */
  windowMs?: number;
}

const DEFAULTS = { maxBuffered: 20_000, closeTimeoutMs: 60_000, retryMs: { initial: 100, max: 5_000 }, windowMs: 200 };

/** Totals of this process, for its logs. */
export const logPipeline = { failedWrites: 0, droppedLines: 0 };

const log = createLogger(undefined, 'log-writer');

/**
 * Collects one step's output and writes it to the store as it arrives, so a crash loses at most
 * the last fraction of a second. The first line after a quiet spell is written at once (followers
 * see a step start without delay); lines that follow it are gathered for 200 ms per write. Lines
 * are masked before they are stored.
 *
 * A failed write never fails the step: lines stay buffered, in order, and the write is tried again
 * with a growing pause until the store answers. Past `maxBuffered` unwritten lines, new lines are
 * dropped and counted, and a line saying how many takes their place once the store is back.
 */
export class LogWriter {
  /** Lines not yet stored, oldest first; a write removes them only once it succeeded. */
  private pending: Line[] = [];
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  /** Dropped since the last marker line. */
  private dropped = 0;
  /** Lines lost in all, to the full buffer or to a store that never came back. */
  droppedLines = 0;
  private failures = 0;
  private givenUp = false;
  private readonly o: typeof DEFAULTS;

  private constructor(
    private readonly store: LogSink,
    private readonly deploymentId: string,
    private readonly step: number,
    private readonly masker: Masker,
    private seq: number,
    options: LogWriterOptions,
  ) {
    this.o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  }

  /** Continues after lines an earlier attempt of the same step already wrote. */
  static async open(store: LogSink, deploymentId: string, step: number, masker: Masker, options: LogWriterOptions = {}): Promise<LogWriter> {
    return new LogWriter(store, deploymentId, step, masker, await store.countLogs(deploymentId, step), options);
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
    if (this.pending.length >= this.o.maxBuffered) {
      this.dropped++;
      this.droppedLines++;
      logPipeline.droppedLines++;
      return;
    }
    this.markDropped();
    this.enqueue(this.masker.mask(text.replace(/\r$/, '')));
    if (this.pending.length >= 200) void this.persist();
    else if (!this.timer) {
      void this.persist();
      this.timer = setTimeout(this.tick, this.o.windowMs);
    }
  }

  /** Where lines were dropped, a line says how many. */
  private markDropped(): void {
    if (!this.dropped) return;
    log.warn({ deployment: this.deploymentId, step: this.step, dropped: this.dropped }, 'log lines dropped while the store was failing');
    this.enqueue(`[${this.dropped} line(s) of output dropped here: the log store could not be written]`);
    this.dropped = 0;
  }

  private enqueue(text: string): void {
    this.pending.push({ seq: this.seq++, ts: new Date().toISOString(), line: text + '\n' });
  }

  /** End of a 200 ms window: write what it gathered and open another, or go quiet. */
  private readonly tick = () => {
    if (this.pending.length === 0) {
      this.timer = undefined;
      return;
    }
    void this.persist();
    this.timer = setTimeout(this.tick, this.o.windowMs);
  };

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.persist();
  }

  /** One writer at a time, so lines land in order; it runs until nothing is pending. Never rejects. */
  private persist(): Promise<void> {
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async drain(): Promise<void> {
    while (this.pending.length && !this.givenUp) {
      const batch = this.pending.slice(0, 500);
      if (await this.tryWrite(batch)) this.pending.splice(0, batch.length);
      else await this.pause();
    }
  }

  private async tryWrite(batch: Line[]): Promise<boolean> {
    try {
      // Inserts are idempotent by (deployment, step, seq): a write that failed after landing is harmless to repeat.
      await this.store.appendLogs(this.deploymentId, this.step, batch);
      if (this.failures) log.info({ deployment: this.deploymentId, step: this.step, failures: this.failures }, 'log store writable again');
      this.failures = 0;
      return true;
    } catch (err) {
      logPipeline.failedWrites++;
      if (this.failures++ === 0) log.warn({ deployment: this.deploymentId, step: this.step, err }, 'could not write log lines; retrying');
      return false;
    }
  }

  private async pause(): Promise<void> {
    const { initial, max } = this.o.retryMs;
    // A step waiting on its log still shows it is alive.
    safeHeartbeat();
    await new Promise((r) => setTimeout(r, Math.min(max, initial * 2 ** Math.min(this.failures - 1, 16))));
  }

  /**
   * Writes what is left. A store still failing after `closeTimeoutMs` loses those lines (counted as
   * dropped) rather than holding the step forever.
   */
  async close(): Promise<void> {
    if (this.partial) this.push(this.partial);
    this.partial = '';
    this.markDropped();
    let timeout: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timeout = setTimeout(() => r('late'), this.o.closeTimeoutMs)));
    const outcome = await Promise.race([this.flush(), late]);
    clearTimeout(timeout);
    if (outcome !== 'late') return;
    this.givenUp = true;
    const lost = this.pending.length;
    this.droppedLines += lost;
    logPipeline.droppedLines += lost;
    this.pending = [];
    log.error({ deployment: this.deploymentId, step: this.step, lost }, 'gave up writing log lines: the log store kept failing');
  }
}
