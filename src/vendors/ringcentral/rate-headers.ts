/**
 * RingCentral's rate-limit response headers (reference/ringcentral/docs/docs_basics_rate-limits.md, "Rate
 * limit response headers"): `X-Rate-Limit-Group` (the usage plan group; names may change, so nothing relies on
 * them), `X-Rate-Limit-Limit` (requests per window), `X-Rate-Limit-Remaining` (left in the window) and
 * `X-Rate-Limit-Window` (seconds). They may be absent; then nothing is learned.
 */
import { type HttpResponse, header } from '../../core/http.js';
import type { RateObservation } from '../../core/rate-limit.js';

function count(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

/** The rate-limit numbers of a response, as the core limiter takes them. */
export function rateObservation(res: HttpResponse): RateObservation {
  const o: RateObservation = {};
  const limit = count(header(res, 'x-rate-limit-limit'));
  const remaining = count(header(res, 'x-rate-limit-remaining'));
  const windowSeconds = count(header(res, 'x-rate-limit-window'));
  if (limit !== undefined) o.limit = limit;
  if (remaining !== undefined) o.remaining = remaining;
  if (windowSeconds !== undefined) o.windowSeconds = windowSeconds;
  return o;
}
