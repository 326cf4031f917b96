/**
 * Stops a run that hangs: `idle` fires when nothing was reported for idleMs (each report resets
 * it), `tooLong` when the run exceeds maxMs. Either calls `stop` once, with the reason.
 */
export class Liveness {
  private idle: NodeJS.Timeout;
  private readonly max: NodeJS.Timeout;
  stoppedBecause?: string;

  constructor(
    private readonly idleMs: number,
    maxMs: number,
    private readonly stop: (reason: string) => void,
  ) {
    this.idle = this.idleTimer();
    this.max = setTimeout(() => this.fire(`it ran longer than the maximum of ${seconds(maxMs)}`), maxMs);
  }

  /** Something happened: the run is alive. */
  alive(): void {
    clearTimeout(this.idle);
    if (!this.stoppedBecause) this.idle = this.idleTimer();
  }

  dispose(): void {
    clearTimeout(this.idle);
    clearTimeout(this.max);
  }

  private idleTimer(): NodeJS.Timeout {
    return setTimeout(() => this.fire(`it reported no engine event for ${seconds(this.idleMs)}`), this.idleMs);
  }

  private fire(reason: string): void {
    if (this.stoppedBecause) return;
    this.stoppedBecause = reason;
    this.dispose();
    this.stop(reason);
  }
}

const seconds = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`);
