/**
 * RingCentral user-level rate limits, per usage plan group (reference/ringcentral/docs/docs_basics_rate-limits.md):
 * requests of one group are counted over a sliding window; once the limit is reached the group is in penalty
 * for `penaltyS`, every request sent during the penalty is rejected with 429 and restarts it. Each answer
 * carries `X-Rate-Limit-Group`, `-Limit`, `-Remaining` and `-Window`; a 429 also `Retry-After` (seconds).
 * Defaults there: Heavy 10 requests / 60 s, Auth 5 / 60 s, penalty 60 s.
 */
import type http from 'node:http';

/** A group's limit: `limit` requests per `windowS` seconds, then `penaltyS` seconds of 429s. */
export interface RateLimitConfig {
  limit: number;
  windowS: number;
  penaltyS: number;
}

/** The outcome of counting one request. */
export interface RateLimitDecision {
  ok: boolean;
  /** The `X-Rate-Limit-*` headers (and `Retry-After` when rejected). */
  headers: http.OutgoingHttpHeaders;
  retryAfterS?: number;
}

/** One usage plan group of the single (user, app) pair the sandbox serves. */
export class RateLimitGroup {
  /** Times (ms) of the requests let through, oldest first. */
  readonly accepted: number[] = [];
  /** Times (ms) of the requests rejected with 429 by the limiter. */
  readonly rejected: number[] = [];
  private window: number[] = [];
  private penaltyUntil = 0;
  private penaltyS: number;

  constructor(
    /** The value of `X-Rate-Limit-Group`, e.g. `heavy`. */
    readonly name: string,
    readonly config: RateLimitConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.penaltyS = config.penaltyS;
  }

  /** Whether the group is in penalty now. */
  get inPenalty(): boolean {
    return this.now() < this.penaltyUntil;
  }

  /** How many 429s the limiter sent. */
  get violations(): number {
    return this.rejected.length;
  }

  /** Counts one request and says whether it may proceed. */
  take(): RateLimitDecision {
    const t = this.now();
    if (t < this.penaltyUntil) return this.reject(t);
    this.penaltyS = this.config.penaltyS;
    const since = t - this.config.windowS * 1000;
    while (this.window.length > 0 && (this.window[0] ?? 0) <= since) this.window.shift();
    if (this.window.length >= this.config.limit) return this.reject(t);
    this.window.push(t);
    this.accepted.push(t);
    return { ok: true, headers: this.headers(this.config.limit - this.window.length) };
  }

  /** Puts the group in penalty for `seconds` from now (a test forcing a 429 mid-run). */
  injectPenalty(seconds: number): void {
    this.penaltyS = seconds;
    this.penaltyUntil = this.now() + seconds * 1000;
    this.window = [];
  }

  /** The headers of a request that is not counted (e.g. answered before the limiter was consulted). */
  headers(remaining = this.remaining()): http.OutgoingHttpHeaders {
    return {
      'x-rate-limit-group': this.name,
      'x-rate-limit-limit': String(this.config.limit),
      'x-rate-limit-remaining': String(Math.max(0, remaining)),
      'x-rate-limit-window': String(this.config.windowS),
    };
  }

  private remaining(): number {
    const since = this.now() - this.config.windowS * 1000;
    return this.config.limit - this.window.filter((w) => w > since).length;
  }

  private reject(t: number): RateLimitDecision {
    // The penalty (re)starts with every request caught by the limiter; the window starts afresh after it.
    this.penaltyUntil = t + this.penaltyS * 1000;
    this.window = [];
    this.rejected.push(t);
    const retryAfterS = Math.max(1, Math.ceil(this.penaltyS));
    return { ok: false, headers: { ...this.headers(0), 'retry-after': String(retryAfterS) }, retryAfterS };
  }
}
