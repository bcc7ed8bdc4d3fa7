/**
 * State shared by the Noojee emulator's handlers, and how they answer: SOAP faults, text, JSON, and the
 * streamed retrieve body with the fault injector's faults applied.
 */
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultInjector } from '../faults.js';
import { HTML_ERROR_PAGE, type LoggedRequest } from '../server.js';
import { encodedBody, encodedLength, type NoojeeRecording } from './recordings.js';
import { faultEnvelope } from './soap.js';

/** A logged request; `query.apiKey` is replaced by `***` before anyone can read it. */
export interface NoojeeLoggedRequest extends LoggedRequest {
  /** The `method` query parameter of the Axis service (`retrieve`, `start`...), or `listing`. */
  op?: string;
  /** True when the listing's rate limit answered 429. */
  limited?: boolean;
}

/** Counters tests read. */
export interface NoojeeStats {
  /** Listing requests refused with 429 (over the one-a-minute limit). */
  rateLimitViolations: number;
  /** Listing requests for an hour that had not ended 5 minutes before. */
  tooEarlyListings: number;
  /** Retrieve answers refused because the recording was still being recorded. */
  inProgressRefusals: number;
}

/** Everything a handler needs. Times epoch ms. */
export interface NoojeeContext {
  seed: number;
  /** The PBX's IANA zone (listing hours, `Start` texts). */
  tz: string;
  /** Noojee users known to the PBX (`username=` must be one of them). */
  users: Set<string>;
  defaultUser: string;
  apiKey: string;
  basic: { user: string; password: string } | undefined;
  /** Basic auth covers the Axis service only (`services`) or the REST listing too (`all`). */
  basicScope: 'services' | 'all';
  recordings: NoojeeRecording[];
  /** The listing's budget. */
  listing: { limit: number; windowMs: number };
  /** When accepted listing requests arrived. */
  listingTimes: number[];
  faults: FaultInjector;
  stats: NoojeeStats;
  now: () => number;
  /** Counter of uniqueids minted by `start`. */
  minted: number;
}

/** One exchange: the state, the request, the response, its log line and URL. */
export interface NoojeeExchange {
  ctx: NoojeeContext;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  entry: NoojeeLoggedRequest;
  url: URL;
}

/** Answers a SOAP fault (HTTP 500 unless `status` says otherwise). */
export function sendFault(
  x: NoojeeExchange,
  faultstring: string,
  opts: {
    faultcode?: string;
    style?: 'axis1' | 'axis2';
    status?: number;
    headers?: http.OutgoingHttpHeaders;
  } = {},
): void {
  const body = faultEnvelope(opts.faultcode ?? 'Server.userException', faultstring, opts.style ?? 'axis1');
  x.res.writeHead(opts.status ?? 500, {
    'content-type': 'text/xml; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
    ...opts.headers,
  });
  x.res.end(body);
}

/** Answers a plain text. */
export function sendText(x: NoojeeExchange, status: number, text: string, type = 'text/plain'): void {
  x.res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
  });
  x.res.end(text);
}

/**
 * Streams a recording's retrieve answer (./recordings.ts `encodedBody`) with backpressure, applying the
 * fault chosen for this request: `serverError` (503 HTML), `tooMany` (429), `html` (200 HTML page),
 * `reset` (the connection dies part-way), `truncate` (a shorter body under a matching Content-Length).
 */
export async function sendRecording(x: NoojeeExchange, rec: NoojeeRecording): Promise<void> {
  const plan = x.ctx.faults.plan;
  const fault = x.ctx.faults.next(rec.uniqueId);
  if (fault) x.entry.fault = fault;
  if (plan.latencyMs) await sleep(plan.latencyMs);
  if (fault === 'serverError')
    return sendText(x, plan.serverError?.status ?? 503, HTML_ERROR_PAGE, 'text/html');
  if (fault === 'tooMany') {
    x.res.setHeader('retry-after', String(plan.tooMany?.retryAfterS ?? 1));
    return sendText(x, 429, 'Too Many Requests');
  }
  if (fault === 'html') return sendText(x, 200, HTML_ERROR_PAGE, 'text/html');
  const total = encodedLength(rec);
  const limit =
    fault === 'truncate'
      ? (plan.truncate?.keepBytes ?? Math.floor(total / 2))
      : fault === 'reset'
        ? (plan.reset?.afterBytes ?? Math.floor(total / 2))
        : total;
  x.res.writeHead(200, {
    'content-type': rec.style === 'bare' ? 'text/plain; charset=us-ascii' : 'text/xml; charset=utf-8',
    'content-length': fault === 'truncate' ? limit : total,
    'cache-control': 'no-cache',
  });
  let sent = 0;
  const rate = plan.bytesPerSecond ?? 0;
  for (const chunk of encodedBody(rec, x.ctx.seed)) {
    if (x.res.destroyed) return;
    const piece = sent + chunk.length > limit ? chunk.subarray(0, limit - sent) : chunk;
    if (piece.length > 0 && !x.res.write(piece)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          x.res.off('drain', done);
          x.res.off('close', done);
          resolve();
        };
        x.res.on('drain', done);
        x.res.on('close', done);
      });
    }
    sent += piece.length;
    if (rate > 0) await sleep((piece.length / rate) * 1000);
    if (sent >= limit) break;
  }
  if (fault === 'reset') {
    await sleep(20); // let the bytes reach the client before the reset
    x.res.socket?.resetAndDestroy();
    return;
  }
  x.res.end();
}
