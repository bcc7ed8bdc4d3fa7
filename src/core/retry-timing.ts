/**
 * Retry timing: one small pure function (after got's calculate-retry-delay and ky's retry-timing).
 * Exponential backoff with full jitter — delay = random(0, min(cap, base * 2^(attempt-1))) — unless the
 * server said when to come back (`Retry-After`), which wins (clamped to `maxRetryAfterMs`).
 */

/** Inputs of `retryDelay`. All times in ms. */
export interface RetryTimingInput {
  /** The attempt that just failed, 1-based. */
  attempt: number;
  /** Base delay, ms (default 1000). */
  baseMs?: number;
  /** Upper bound of the backoff, ms (default 60 000). */
  capMs?: number;
  /** The server's `Retry-After`, already converted to ms, if it sent one. */
  retryAfterMs?: number;
  /** Longest `Retry-After` honoured, ms (default 10 minutes). */
  maxRetryAfterMs?: number;
  /** A number in [0, 1) (default Math.random()); injected by tests. */
  random?: number;
}

/** The delay in ms before the next attempt. */
export function retryDelay(input: RetryTimingInput): number {
  if (input.retryAfterMs !== undefined && Number.isFinite(input.retryAfterMs) && input.retryAfterMs >= 0) {
    return Math.min(input.retryAfterMs, input.maxRetryAfterMs ?? 600_000);
  }
  const base = input.baseMs ?? 1000;
  const cap = input.capMs ?? 60_000;
  const exp = Math.min(cap, base * 2 ** Math.max(0, input.attempt - 1));
  const r = input.random ?? Math.random();
  return Math.floor(r * exp);
}

/**
 * Parses an HTTP `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns ms from
 * `nowMs`, or undefined when absent or unreadable.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowMs = Date.now(),
): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  if (!/^[A-Za-z]{3},? /.test(s)) return undefined; // an HTTP-date starts with a day name
  const date = Date.parse(s);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}
