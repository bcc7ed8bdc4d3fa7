/**
 * A client-side scheduler for one server rate-limit group (e.g. RingCentral's "Heavy" usage plan group),
 * shared by every worker of a run: listing, metadata and content requests all take a slot from it.
 *
 * The model follows RingCentral's documentation of user-level limits
 * (reference/ringcentral/docs/docs_basics_rate-limits.md), but nothing here is vendor-specific:
 * - the server counts the requests of a group over a sliding window of `windowMs`; at most `limit` fit;
 * - every answer may say the current `limit`, `remaining` and window (`X-Rate-Limit-Limit/-Remaining/-Window`;
 *   the vendor parses the headers and passes the numbers to {@link RateSlot.release});
 * - past the limit the server answers 429 and rejects everything for a penalty interval (`Retry-After`
 *   seconds; at least 30 s when the header is missing); every request sent in the penalty restarts it,
 *   so nothing is sent until it is over.
 *
 * Bookkeeping: each slot is "pending" from the moment it is taken until its response headers arrive, then
 * counted at that moment for one window. A pending slot always counts, so a request the server has not
 * seen yet is never forgotten, and counting from the answer (never earlier than the server's own count)
 * keeps the local window a superset of the server's. When the server reports more requests in its window
 * than the limiter knows of (other clients of the same user and app, an earlier run), the difference is
 * added as phantom slots, so `Remaining: 0` from the server blocks until a window has passed.
 *
 * Times are milliseconds from an injectable clock; waiting goes through an injectable `sleep`, so unit
 * tests record the delays instead of sleeping.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { RecpullError } from './errors.js';

/** A budget: at most `limit` requests in any `windowMs` milliseconds. */
export interface RateWindow {
  limit: number;
  windowMs: number;
}

/** What a response said about the group (all optional: servers omit the headers "in some rare cases"). */
export interface RateObservation {
  /** `X-Rate-Limit-Limit`: requests allowed per window. */
  limit?: number;
  /** `X-Rate-Limit-Remaining`: requests left in the window, counting the one just answered. */
  remaining?: number;
  /** `X-Rate-Limit-Window`: the window, in seconds. */
  windowSeconds?: number;
}

/** A wait the limiter imposes on the group, for the progress display (`rate-limit-wait` event). */
export interface RateLimitWait {
  group: string;
  /** How long the group waits, ms. */
  waitMs: number;
  /** `budget`: the window is full; `penalty`: the server answered 429. */
  reason: 'budget' | 'penalty';
}

/** Options of {@link RateLimiter}. Times in ms. */
export interface RateLimiterOptions {
  /** The group's name as shown to the user, e.g. `Heavy`. */
  group: string;
  /** The budget assumed until a response says otherwise (RingCentral publishes 10 per 60 s for Heavy). */
  initial: RateWindow;
  /** A client-side cap that responses never raise (a configured budget); checked besides the learned one. */
  cap?: RateWindow;
  /** The penalty assumed for a 429 without `Retry-After`, ms (default 30 000, per the rate-limit guide). */
  minPenaltyMs?: number;
  /** Waits shorter than this are not announced through `onWait` (default 1000 ms). */
  announceAfterMs?: number;
  /** Called when the group starts waiting (see `announceAfterMs`) and when a penalty starts. */
  onWait?: (wait: RateLimitWait) => void;
  /** Clock, epoch ms (default `Date.now`). */
  now?: () => number;
  /** Sleeps `ms`; rejects when `signal` aborts (default: node:timers/promises). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** A taken slot. Call `release` exactly once, when the response headers arrived or the request failed. */
export interface RateSlot {
  release(observed?: RateObservation): void;
}

/** Options of one {@link RateLimiter.acquire}. */
export interface AcquireOptions {
  signal?: AbortSignal;
  /** Give up (throw retryable `E_RATE_LIMIT`) rather than wait longer than this, ms. Default: no limit. */
  maxWaitMs?: number;
}

interface Entry {
  /** When the slot's response arrived (ms); undefined while pending. */
  countedAt: number | undefined;
}

/** A taken slot's entry, with when it was taken (ms): its request reached the server no earlier. */
interface TakenEntry extends Entry {
  takenAt: number;
}

/** The rate limiter of one group. See the module comment for the model. */
export class RateLimiter {
  readonly group: string;
  private limit: number;
  private windowMs: number;
  private readonly cap: RateWindow | undefined;
  private readonly minPenaltyMs: number;
  private readonly announceAfterMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private entries: Entry[] = [];
  private penaltyUntil = 0;
  private announcedUntil = 0;
  private readonly wakers = new Set<() => void>();
  onWait: ((wait: RateLimitWait) => void) | undefined;

  constructor(opts: RateLimiterOptions) {
    this.group = opts.group;
    this.limit = Math.max(1, Math.floor(opts.initial.limit));
    this.windowMs = opts.initial.windowMs;
    this.cap = opts.cap;
    this.minPenaltyMs = opts.minPenaltyMs ?? 30_000;
    this.announceAfterMs = opts.announceAfterMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms, signal) => sleepTimer(ms, undefined, { signal }));
    this.onWait = opts.onWait;
  }

  /** The budget currently followed (learned from responses, else the initial one). */
  get budget(): RateWindow {
    return { limit: this.limit, windowMs: this.windowMs };
  }

  /** Epoch ms until which the group is in a 429 penalty (0 or past: none). */
  get penaltyEndsAt(): number {
    return this.penaltyUntil;
  }

  /**
   * How long a request taken now would have to wait, ms (0: it may go now), and why. `Infinity` when only
   * pending slots fill the window (the wait ends when one of them is released). Pure with respect to the clock.
   */
  delay(): { waitMs: number; reason: 'budget' | 'penalty' } {
    const t = this.now();
    if (t < this.penaltyUntil) return { waitMs: this.penaltyUntil - t, reason: 'penalty' };
    this.prune(t);
    let wait = this.windowWait(t, this.limit, this.windowMs);
    if (this.cap) wait = Math.max(wait, this.windowWait(t, this.cap.limit, this.cap.windowMs));
    return { waitMs: wait, reason: 'budget' };
  }

  /**
   * Waits until a request may be sent without exceeding the budget or entering a penalty, then takes a slot.
   * Throws `E_ABORTED` when `signal` aborts, retryable `E_RATE_LIMIT` when the wait would exceed `maxWaitMs`.
   */
  async acquire(opts: AcquireOptions = {}): Promise<RateSlot> {
    for (;;) {
      if (opts.signal?.aborted) throw new RecpullError('E_ABORTED', 'interrupted');
      const { waitMs, reason } = this.delay();
      if (waitMs <= 0) return this.take();
      if (opts.maxWaitMs !== undefined && waitMs > opts.maxWaitMs) {
        throw new RecpullError('E_RATE_LIMIT', `the ${this.group} rate limit would make this wait`, {
          retryable: true,
          retryAfterMs: Number.isFinite(waitMs) ? waitMs : undefined,
        });
      }
      this.announce(waitMs, reason);
      await this.waitOrWake(waitMs, opts.signal);
    }
  }

  /**
   * Records a 429: every worker of the group waits `retryAfterMs` from now (`minPenaltyMs` when the server
   * sent no `Retry-After`). Returns the wait in ms.
   */
  penalize(retryAfterMs?: number): number {
    const t = this.now();
    const ms = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) ? retryAfterMs : this.minPenaltyMs;
    const until = t + Math.max(0, ms);
    if (until > this.penaltyUntil) {
      this.penaltyUntil = until;
      this.announcedUntil = Math.max(this.announcedUntil, until);
      this.onWait?.({ group: this.group, waitMs: until - t, reason: 'penalty' });
    }
    this.wakeAll();
    return Math.max(0, this.penaltyUntil - t);
  }

  private take(): RateSlot {
    const entry: TakenEntry = { countedAt: undefined, takenAt: this.now() };
    this.entries.push(entry);
    let released = false;
    return {
      release: (observed) => {
        if (released) return;
        released = true;
        const t = this.now();
        entry.countedAt = t;
        if (observed) this.learn(observed, t, entry.takenAt);
        this.wakeAll();
      },
    };
  }

  /**
   * Follows the server's numbers; adds phantom slots (counted from `t`, the answer) for requests it
   * counted that this limiter did not send. The server counted when the request arrived, some time after
   * `takenAt`: its window then still held this limiter's slots answered up to a window before `takenAt`.
   * Comparing with the window at `t` instead took those for someone else's requests, and the phantoms
   * made the group wait a whole window more (RingCentral at the Heavy limit, 303 requests: 31.8 s instead
   * of 30.9 s in about half the runs).
   */
  private learn(o: RateObservation, t: number, takenAt: number): void {
    if (o.limit !== undefined && Number.isInteger(o.limit) && o.limit > 0) this.limit = o.limit;
    if (o.windowSeconds !== undefined && Number.isFinite(o.windowSeconds) && o.windowSeconds > 0)
      this.windowMs = o.windowSeconds * 1000;
    if (o.remaining === undefined || !Number.isFinite(o.remaining) || o.remaining < 0) return;
    const serverUsed = this.limit - Math.floor(o.remaining);
    const known = this.used(takenAt, this.windowMs);
    this.prune(t);
    for (let i = known; i < serverUsed; i++) this.entries.push({ countedAt: t });
  }

  /** Slots that count in a window of `windowMs` ending at `t`: pending ones and those counted within it. */
  private used(t: number, windowMs: number): number {
    let n = 0;
    for (const e of this.entries) if (e.countedAt === undefined || e.countedAt + windowMs > t) n++;
    return n;
  }

  /** The wait until fewer than `limit` slots count in the window (Infinity when pending slots alone fill it). */
  private windowWait(t: number, limit: number, windowMs: number): number {
    const used = this.used(t, windowMs);
    if (used < limit) return 0;
    const counted = this.entries
      .filter((e) => e.countedAt !== undefined && e.countedAt + windowMs > t)
      .map((e) => (e.countedAt as number) + windowMs)
      .sort((a, b) => a - b);
    const freeAt = counted[used - limit];
    return freeAt === undefined ? Number.POSITIVE_INFINITY : freeAt - t;
  }

  /** Forgets slots that no window counts any more. */
  private prune(t: number): void {
    const longest = Math.max(this.windowMs, this.cap?.windowMs ?? 0);
    this.entries = this.entries.filter((e) => e.countedAt === undefined || e.countedAt + longest > t);
  }

  private announce(waitMs: number, reason: 'budget' | 'penalty'): void {
    if (!Number.isFinite(waitMs) || waitMs < this.announceAfterMs) return;
    const until = this.now() + waitMs;
    if (until <= this.announcedUntil) return;
    this.announcedUntil = until;
    this.onWait?.({ group: this.group, waitMs, reason });
  }

  /** Sleeps `ms` (forever when Infinity), or less when a slot is released or a penalty starts. */
  private async waitOrWake(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.wakers.add(wake);
    try {
      const timer = Number.isFinite(ms) ? this.sleep(ms, stop.signal).catch(() => {}) : new Promise(() => {});
      const aborted = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve()));
      await Promise.race([timer, woken, aborted]);
    } finally {
      this.wakers.delete(wake);
      signal?.removeEventListener('abort', onAbort);
      stop.abort();
    }
    if (signal?.aborted) throw new RecpullError('E_ABORTED', 'interrupted');
  }

  private wakeAll(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const w of wakers) w();
  }
}
