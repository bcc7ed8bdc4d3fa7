/**
 * The deadline of one download attempt: `--timeout` bounds each stall (undici's body timeout), this bounds
 * the whole attempt, so a server that sends one byte every few seconds cannot hold a worker forever. The
 * deadline is `baseMs`, extended by the time the body needs at `minBytesPerSecond` once its length is known.
 */
import { RecpullError } from './errors.js';

/** Settings of an attempt's deadline. Times in ms. */
export interface AttemptDeadlineOptions {
  /** Every attempt may take this long, whatever its size (default 10 minutes). */
  baseMs?: number;
  /** Slowest transfer still accepted once the size is known, bytes per second (default 64 KiB/s). */
  minBytesPerSecond?: number;
}

/** One attempt's deadline: `signal` aborts when the run stops or when the deadline passes. */
export class AttemptDeadline {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private expired = false;
  private readonly onStop = () => this.controller.abort();

  constructor(
    private readonly run: AbortSignal,
    private readonly opts: AttemptDeadlineOptions = {},
  ) {
    this.signal = this.controller.signal;
    if (run.aborted) this.controller.abort();
    else run.addEventListener('abort', this.onStop, { once: true });
    this.arm(this.opts.baseMs ?? 600_000);
  }

  /** The body's length is known (bytes): allow the time it needs at the slowest accepted rate. */
  sizeKnown(bytes: number): void {
    const needMs = (bytes / (this.opts.minBytesPerSecond ?? 64 * 1024)) * 1000;
    this.arm((this.opts.baseMs ?? 600_000) + needMs - (Date.now() - this.started));
  }

  /** Whether the deadline (not the run) ended the attempt. */
  get timedOut(): boolean {
    return this.expired && !this.run.aborted;
  }

  /** `err`, or the retryable `E_TIMEOUT` it became if the deadline ended the attempt. */
  explain(err: unknown): unknown {
    if (!this.timedOut) return err;
    const s = Math.round((Date.now() - this.started) / 1000);
    return new RecpullError('E_TIMEOUT', `the download did not finish within its deadline (${s} s)`, {
      retryable: true,
    });
  }

  /** Stops the timer (the attempt ended). */
  dispose(): void {
    clearTimeout(this.timer);
    this.run.removeEventListener('abort', this.onStop);
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.expired = true;
        this.controller.abort();
      },
      Math.max(0, ms),
    );
  }
}
