/**
 * Authorised RingCentral API requests: `Authorization: Bearer <access token>` (never `access_token` in the
 * URL: reference/ringcentral/docs/docs_authentication_tokens.md warns it leaks through proxies' logs), each
 * one through the Heavy group's limiter (call log, recording metadata and content are all Heavy:
 * reference/README.md "RingCentral", extract-spec-calllog-recording.yml `x-throttling-group`).
 *
 * - 429: the whole group pauses for `Retry-After` (the limiter's penalty), then the request is sent again.
 * - 401 with an expired-token code (OAU-128 / TokenExpired), or for a token another worker already replaced:
 *   one refresh and one retry.
 * Every URL requested comes from the profile (`server`, `mediaServer`) or from the platform's own answers
 * (`contentUri`, `navigation.nextPage.uri`).
 */
import { RecpullError } from '../../core/errors.js';
import { drain, type HttpClient, type HttpResponse, readText } from '../../core/http.js';
import type { RateLimiter } from '../../core/rate-limit.js';
import { withRetries } from '../../core/request-policy.js';
import type { RcAuth } from './auth.js';
import { isExpiredToken, parseErrorBody, rcStatusError, readError, retryAfterOf } from './errors.js';
import { rateObservation } from './rate-headers.js';

/** Options of {@link RcApi}. */
export interface RcApiOptions {
  /** The Heavy group's limiter, shared by every request of the run. */
  heavy: RateLimiter;
  /** Retries of a listing request after network errors and 5xx (default 5). */
  retries?: number;
  /** Base of their backoff, ms (default 1000). */
  retryBaseMs?: number;
}

/** One GET. `what` names it in errors (no secrets). */
export interface GetOptions {
  signal: AbortSignal;
  what: string;
  headers?: Record<string, string>;
}

/** How often one request is sent again after a 429 before the error goes to the caller. */
const RATE_LIMIT_RETRIES = 3;

/** Authorised GETs through the Heavy limiter, with the 401 and 429 handling described above. */
export class RcApi {
  constructor(
    private readonly http: HttpClient,
    private readonly auth: RcAuth,
    private readonly opts: RcApiOptions,
  ) {}

  /**
   * Sends an authorised GET and returns the response whatever its status, except: a 429 is waited out and
   * sent again (up to 3 times, then `E_RATE_LIMIT`); a 401 for an expired or replaced token is retried once
   * with a fresh token, another 401 throws `E_AUTH`. Transport errors are thrown as `http.request` does.
   */
  async get(url: URL, opts: GetOptions): Promise<HttpResponse> {
    let renewed = false;
    for (let limited = 0; ;) {
      const slot = await this.opts.heavy.acquire({ signal: opts.signal });
      let token: string;
      let res: HttpResponse;
      try {
        token = await this.auth.token(opts.signal);
        res = await this.http.request(url, {
          signal: opts.signal,
          headers: { accept: 'application/json', ...opts.headers, authorization: `Bearer ${token}` },
        });
      } catch (err) {
        slot.release();
        throw err;
      }
      slot.release(rateObservation(res));
      if (res.statusCode === 429) {
        this.opts.heavy.penalize(retryAfterOf(res));
        if (++limited <= RATE_LIMIT_RETRIES) {
          await drain(res);
          continue;
        }
        throw rcStatusError(res, await readError(res), opts.what);
      }
      if (res.statusCode === 401) {
        const info = await readError(res);
        if (!renewed && (isExpiredToken(info) || !this.auth.isCurrent(token))) {
          renewed = true;
          await this.auth.renew(token, opts.signal);
          continue;
        }
        throw rcStatusError(res, info, opts.what);
      }
      return res;
    }
  }

  /**
   * GETs JSON (listing, metadata), retrying network errors, timeouts and 5xx with backoff. A non-2xx answer
   * throws the mapped error (see `rcStatusError`); the caller may inspect `vendorCode` (e.g. CMN-102).
   */
  async getJson<T>(url: URL, opts: GetOptions): Promise<T> {
    return withRetries(
      async () => {
        const res = await this.get(url, opts);
        const text = await readText(res, 64 * 1024 * 1024);
        if (res.statusCode < 200 || res.statusCode >= 300)
          throw rcStatusError(res, parseErrorBody(text), opts.what);
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new RecpullError('E_PROTOCOL', `${opts.what}: the answer is not JSON`, { retryable: true });
        }
      },
      {
        retries: this.opts.retries ?? 5,
        signal: opts.signal,
        ...(this.opts.retryBaseMs !== undefined ? { baseMs: this.opts.retryBaseMs } : {}),
      },
    );
  }
}
