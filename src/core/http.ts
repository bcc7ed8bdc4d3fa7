/**
 * HTTP for every vendor: one undici Agent per origin (keep-alive pools, TLS options, timeouts), and the
 * classification of transport failures into retryable `RecpullError`s.
 */
import { readFileSync } from 'node:fs';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import { RecpullError } from './errors.js';
import { lazyRequire } from './lazy-require.js';
import { redact } from './redact.js';
import { errorForStatus } from './request-policy.js';
import { parseRetryAfter } from './retry-timing.js';
import type { FetchedBody } from './source.js';

type Agent = UndiciAgent;

/**
 * Only undici's Agent and its request API: undici's index also loads fetch, WebSocket, the cache and mock
 * agents, about 13 MB more resident memory for every run (issue 11). Same module instances as the
 * index's. Loaded on the first request, not at start: a re-run that finds everything done, or a dry run,
 * sends none (measured: loading it costs about 65 ms and 15 MB).
 */
const undiciAgent = lazyRequire<typeof UndiciAgent>('undici/lib/dispatcher/agent.js');
const undiciApi = lazyRequire<{
  request: (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
}>('undici/lib/api/index.js');

/** Transport settings. Times in ms. */
export interface HttpOptions {
  /** No response headers, or no body progress, for this long → `E_TIMEOUT` (retryable). Default 60 000. */
  timeoutMs?: number;
  /** Connect timeout, ms (default min(timeoutMs, 15 000)). */
  connectTimeoutMs?: number;
  /** PEM file of a CA to trust (self-signed servers, the HTTPS sandbox). */
  caFile?: string;
  /** PEM text of a CA to trust. */
  ca?: string;
  /** Do not verify TLS certificates (last resort; warns). */
  insecure?: boolean;
  /** Sent on every request. */
  userAgent?: string;
  /** Keep-alive connections per origin (default 16). */
  connections?: number;
}

/** A response with its body still to be read (a Node Readable). */
export type HttpResponse = Dispatcher.ResponseData;

/** Options of one request. */
export interface RequestOptions {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

/** The PEM of `caFile` (the CLI has checked it with the config); `E_CONFIG` when it cannot be read. */
function readCa(caFile: string): string {
  try {
    return readFileSync(caFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new RecpullError('E_CONFIG', `tls.caFile: cannot read ${caFile} (${code})`, { cause: err });
  }
}

/** One undici Agent per origin, created on first use. The constructor throws `E_CONFIG` when `caFile` cannot be read. */
export class HttpClient {
  private readonly agents = new Map<string, Agent>();
  private readonly connect: { ca?: string; rejectUnauthorized?: boolean; timeout: number };

  constructor(readonly options: HttpOptions = {}) {
    const timeout = options.connectTimeoutMs ?? Math.min(options.timeoutMs ?? 60_000, 15_000);
    this.connect = { timeout };
    const ca = options.ca ?? (options.caFile ? readCa(options.caFile) : undefined);
    if (ca) this.connect.ca = ca;
    if (options.insecure) this.connect.rejectUnauthorized = false;
  }

  /** The dispatcher for an origin (exposed so tests with nock can pass it explicitly). */
  dispatcher(origin: string): Agent {
    let agent = this.agents.get(origin);
    if (!agent) {
      const timeout = this.options.timeoutMs ?? 60_000;
      agent = new (undiciAgent())({
        connections: this.options.connections ?? 16,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        connect: this.connect,
        keepAliveTimeout: 4000,
      });
      this.agents.set(origin, agent);
    }
    return agent;
  }

  /**
   * Sends a request. Resolves with the response whatever its status (the caller interprets it);
   * throws a retryable `E_NETWORK`/`E_TIMEOUT` for transport failures, `E_ABORTED` when `signal` fired.
   * The URL is never put in an error message unredacted.
   */
  async request(url: string | URL, opts: RequestOptions = {}): Promise<HttpResponse> {
    const u = typeof url === 'string' ? new URL(url) : url;
    const headers: Record<string, string> = { ...opts.headers };
    if (this.options.userAgent && !headers['user-agent']) headers['user-agent'] = this.options.userAgent;
    try {
      return await undiciApi().request.call(this.dispatcher(u.origin), {
        origin: u.origin,
        path: u.search ? `${u.pathname}${u.search}` : u.pathname,
        method: opts.method ?? 'GET',
        headers,
        body: opts.body ?? null,
        signal: opts.signal ?? null,
      });
    } catch (err) {
      throw transportError(err, opts.signal);
    }
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close().catch(() => {})));
    this.agents.clear();
  }
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

function isTlsCode(code: string): boolean {
  return (
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'ERR_TLS_CERT_ALTNAME_INVALID' ||
    code.startsWith('ERR_TLS') ||
    code === 'CERT_HAS_EXPIRED'
  );
}

/**
 * Whether `err` (as thrown by `HttpClient.request`) is a failure to verify the server's TLS certificate: the
 * server cannot be authenticated, so a vendor signing in may treat it as `E_AUTH` (exit 3).
 */
export function isTlsFailure(err: unknown): boolean {
  const cause = (err as { cause?: NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException } })?.cause;
  const code = cause?.code ?? cause?.cause?.code ?? '';
  return err instanceof RecpullError && err.code === 'E_NETWORK' && isTlsCode(code);
}

/** Maps a transport error (undici, socket, abort) to a RecpullError; all but aborts are retryable. */
export function transportError(err: unknown, signal?: AbortSignal): RecpullError {
  if (err instanceof RecpullError) return err;
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (signal?.aborted || e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED') {
    return new RecpullError('E_ABORTED', 'interrupted', { cause: err });
  }
  const code = e?.code ?? e?.cause?.code ?? 'unknown';
  const detail = redact(`${e?.message ?? String(err)}${e?.cause?.message ? ` (${e.cause.message})` : ''}`);
  if (TIMEOUT_CODES.has(code))
    return new RecpullError('E_TIMEOUT', `timed out: ${detail}`, { retryable: true, cause: err });
  if (isTlsCode(code)) {
    return new RecpullError(
      'E_NETWORK',
      `TLS failure (${code}): ${detail}; set tls.caFile for a private CA`,
      { cause: err },
    );
  }
  return new RecpullError('E_NETWORK', `${code}: ${detail}`, { retryable: true, cause: err });
}

/**
 * Reads a small body (a token, an error page, a vendor's JSON) as text: at most `limit` bytes (default
 * 1 MiB) — past that the rest is not read, the connection is closed, and the prefix is returned — within
 * `deadlineMs` (default 60 000) for the whole body, however slowly it trickles.
 * Throws retryable `E_TIMEOUT` past the deadline, or the body's transport error.
 */
export async function readText(res: HttpResponse, limit = 1 << 20, deadlineMs = 60_000): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    res.body.destroy();
  }, deadlineMs);
  let failure: unknown;
  try {
    for await (const c of res.body) {
      const b = c as Buffer;
      chunks.push(b.subarray(0, limit - n));
      n += Math.min(b.length, limit - n);
      if (n >= limit) {
        res.body.destroy(); // an endless or huge answer is not read to its end
        break;
      }
    }
  } catch (err) {
    failure = err;
  } finally {
    clearTimeout(timer);
  }
  if (late) {
    const s = Math.round(deadlineMs / 1000);
    throw new RecpullError('E_TIMEOUT', `the answer took longer than ${s} s`, { retryable: true });
  }
  if (failure !== undefined) throw transportError(failure);
  return Buffer.concat(chunks).toString('utf8');
}

/** Discards a body so the connection can be reused. */
export async function drain(res: HttpResponse): Promise<void> {
  try {
    await res.body.dump();
  } catch {
    // the connection is closed anyway
  }
}

/**
 * The `FetchedBody` of a 200 or 206 response: its body stream, `Content-Type`, `Content-Length` (bytes of
 * this body), `ETag`, `rangeStart` (the offset a 206 continues from) and `resumable` (the server takes
 * `Range`: it said `Accept-Ranges: bytes`, or it just answered one).
 */
export function fetchedBody(res: HttpResponse, rangeStart?: number): FetchedBody {
  const contentType = header(res, 'content-type');
  const length = header(res, 'content-length');
  const etag = header(res, 'etag');
  return {
    body: res.body,
    ...(contentType ? { contentType } : {}),
    ...(length !== undefined && /^\d+$/.test(length) ? { length: Number(length) } : {}),
    ...(rangeStart ? { rangeStart } : {}),
    ...(etag ? { etag } : {}),
    resumable: rangeStart !== undefined || /\bbytes\b/i.test(header(res, 'accept-ranges') ?? ''),
  };
}

/** A header's first value. */
export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The error of an unexpected status, mapped by `errorForStatus` (src/core/request-policy.ts): 401 `E_AUTH`,
 * 403 `E_PERMISSION`, 404 `E_NOT_FOUND`, 429 `E_RATE_LIMIT` with Retry-After, 408/5xx retryable `E_HTTP`.
 * `what` names the request (no secrets); `detail` (a body excerpt) is redacted and cut to 300 characters.
 */
export function statusError(res: HttpResponse, what: string, detail = '', vendorCode?: string): RecpullError {
  const status = res.statusCode;
  const tail = detail ? `: ${redact(detail).slice(0, 300)}` : '';
  const retryAfterMs = status === 429 ? parseRetryAfter(res.headers['retry-after']) : undefined;
  const reason = status === 429 ? ' Too Many Requests' : status === 404 ? ' Not Found' : '';
  return errorForStatus(status, `${what}: HTTP ${status}${reason}${tail}`, {
    ...(vendorCode ? { vendorCode } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
