/**
 * The RingCentral client of one run: the token (./auth.ts), authorised requests (./api.ts) and the two
 * rate limiters they go through, one per usage plan group, shared by every worker of the run
 * (one scheduler per server, client id and user: a run has exactly one of each).
 */
import type { HttpClient } from '../../core/http.js';
import { RateLimiter, type RateWindow } from '../../core/rate-limit.js';
import { RcApi } from './api.js';
import { RcAuth, type RcCredentials } from './auth.js';

/**
 * RingCentral's published default user-level limits (reference/ringcentral/docs/docs_basics_rate-limits.md,
 * "User-level limits"): Heavy 10 requests per 60 s, Auth 5 per 60 s (penalty 60 s). Followed until the
 * `X-Rate-Limit-*` headers of a response say otherwise.
 */
export const PUBLISHED_LIMITS: { heavy: RateWindow; auth: RateWindow } = {
  heavy: { limit: 10, windowMs: 60_000 },
  auth: { limit: 5, windowMs: 60_000 },
};

/** Settings of {@link ringcentralClient}. */
export interface RingCentralClientOptions extends RcCredentials {
  mediaServer: string;
  /** A configured Heavy budget (`rateLimit.heavy`): assumed at the start and never exceeded. */
  heavyCap?: RateWindow;
  /** Retries of listing requests (network, 5xx) and their backoff base, ms. */
  retries?: number;
  retryBaseMs?: number;
}

/** The parts of a RingCentral client. */
export interface RingCentralClient {
  auth: RcAuth;
  api: RcApi;
  /** Heavy group: call log, recording metadata, recording content. */
  heavy: RateLimiter;
  /** Auth group: token and revoke. */
  authLimiter: RateLimiter;
}

/** Builds the client of one run. */
export function ringcentralClient(http: HttpClient, o: RingCentralClientOptions): RingCentralClient {
  const heavy = new RateLimiter({
    group: 'Heavy',
    initial: o.heavyCap ?? PUBLISHED_LIMITS.heavy,
    ...(o.heavyCap ? { cap: o.heavyCap } : {}),
  });
  const authLimiter = new RateLimiter({ group: 'Auth', initial: PUBLISHED_LIMITS.auth });
  const retry = o.retryBaseMs !== undefined ? { retryBaseMs: o.retryBaseMs } : {};
  const auth = new RcAuth(http, o, { limiter: authLimiter, ...retry });
  const api = new RcApi(http, auth, {
    heavy,
    ...(o.retries !== undefined ? { retries: o.retries } : {}),
    ...retry,
  });
  return { auth, api, heavy, authLimiter };
}
