/**
 * The one retry policy of recpull: every retried thing, a download attempt in the queue or a vendor's API
 * request (a call-log page, a token), goes through `withRetries`. Timing is `retryDelay` (exponential backoff
 * with full jitter, `Retry-After` first: src/core/retry-timing.ts); what is worth retrying is the error's
 * `retryable` flag, set where the error is made (`statusError` below for HTTP statuses).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RecpullError, toRecpullError } from './errors.js';
import { retryDelay } from './retry-timing.js';

/** How one operation is retried. Times in ms. */
export interface RetryPolicy {
  /** Retries after the first attempt for retryable errors. */
  retries: number;
  /** Base and cap of the backoff (defaults 1000 and 60 000). */
  baseMs?: number;
  capMs?: number;
  /** Stops the waiting: a wait cut short throws `E_ABORTED`. */
  signal?: AbortSignal;
  /**
   * Decides for a retryable error whether another attempt is made; default: `attempt <= retries`.
   * The queue uses it for "not ready yet" recordings, retried for a time rather than a count.
   */
  mayRetry?: (err: RecpullError, attempt: number) => boolean;
  /** Told before each wait (events, limiter penalties). `attempt` is the one that failed, 1-based. */
  onRetry?: (err: RecpullError, attempt: number, delayMs: number) => void;
}

/**
 * Runs `operation(attempt)` (attempt 1-based) until it resolves, or throws the last error when it is not
 * retryable, the policy says no more, or the signal fires (`E_ABORTED`). Anything thrown that is not a
 * `RecpullError` is wrapped as `E_IO`.
 */
export async function withRetries<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (raw) {
      const err = toRecpullError(raw, 'E_IO');
      const more = policy.mayRetry ? policy.mayRetry(err, attempt) : attempt <= policy.retries;
      if (!err.retryable || !more || policy.signal?.aborted) throw err;
      const delayMs = retryDelay({
        attempt,
        ...(policy.baseMs !== undefined ? { baseMs: policy.baseMs } : {}),
        ...(policy.capMs !== undefined ? { capMs: policy.capMs } : {}),
        ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      });
      policy.onRetry?.(err, attempt, delayMs);
      try {
        await sleep(delayMs, undefined, policy.signal ? { signal: policy.signal } : {});
      } catch {
        throw new RecpullError('E_ABORTED', 'interrupted');
      }
    }
  }
}

/** What an error from an HTTP status carries besides the status. */
export interface StatusErrorDetails {
  /** The vendor's own code from the error body (`CMN-102`, `0300011`). */
  vendorCode?: string;
  /** The server's `Retry-After`, ms. */
  retryAfterMs?: number;
}

/**
 * The one mapping of an unexpected HTTP status to an error: 401 → `E_AUTH`; 403 → `E_PERMISSION` (both
 * fatal, exit 3); 404 → `E_NOT_FOUND`; 429 → retryable `E_RATE_LIMIT` with Retry-After; 408 and 5xx →
 * retryable `E_HTTP`; any other status → `E_HTTP`. `message` must already be free of secrets.
 */
export function errorForStatus(
  status: number,
  message: string,
  details: StatusErrorDetails = {},
): RecpullError {
  const opts = {
    status,
    ...(details.vendorCode ? { vendorCode: details.vendorCode } : {}),
  };
  if (status === 401) return new RecpullError('E_AUTH', message, opts);
  if (status === 403) return new RecpullError('E_PERMISSION', message, opts);
  if (status === 404) return new RecpullError('E_NOT_FOUND', message, opts);
  if (status === 429) {
    return new RecpullError('E_RATE_LIMIT', message, {
      ...opts,
      retryable: true,
      ...(details.retryAfterMs !== undefined ? { retryAfterMs: details.retryAfterMs } : {}),
    });
  }
  return new RecpullError('E_HTTP', message, { ...opts, retryable: status === 408 || status >= 500 });
}
