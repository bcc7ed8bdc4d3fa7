/**
 * The receiver of queryBillData's callback (reference: huawei/ccfs-interface-reference-extract.txt 4.1.2,
 * "Example of the message returned by the call center to the callback URL"): CC-FS POSTs
 * `{"request":{"version":"2.0"},"msgBody":{"responseId","billFileName","accountId"}}` to the callBackURL,
 * signed with auth-v2 like the requests it receives. The receiver is a plain HTTP server on `host:port`
 * (put a TLS reverse proxy, or a port the CC-FS host can reach, in front of it); it takes only a POST to its
 * path with a valid signature by the profile's AK and a well-formed body, and answers everything else with an
 * error status. Notices are kept by responseId, so a callback that arrives before queryBillData's own answer
 * is not lost.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RecpullError } from '../../core/errors.js';
import { authV2Timestamp, signAuthV2 } from './auth-v2.js';
import { checkBillFileName } from './protocol.js';

/** Settings of {@link startCallbackReceiver}. Times in ms. */
export interface CallbackReceiverOptions {
  /** Address to listen on (`0.0.0.0`, `127.0.0.1`...). */
  host: string;
  /** Port (0: a free one). */
  port: number;
  /** The path CC-FS posts to (the callback URL's path); default `/`. */
  path?: string;
  ak: string;
  sk: string;
  /** Host values a signature may cover besides the one received (the public callback URL's host, with and without port). */
  publicHosts?: string[];
  /** Accepted distance between the signature's timestamp and the local clock, ms (default 15 min). */
  skewMs?: number;
  now?: () => number;
}

/** A bill file announced by CC-FS. */
export interface BillNotice {
  billFileName: string;
  responseId?: string;
  accountId?: string;
}

/** A running receiver. */
export interface CallbackReceiver {
  /** Where it listens, e.g. `http://127.0.0.1:40123/cb` (not necessarily what CC-FS should call). */
  localUrl: string;
  port: number;
  /** Callbacks refused (bad method, path, signature or body). */
  readonly refused: number;
  /**
   * Resolves with the notice for `responseId` (already received or still to come). Throws `E_TIMEOUT` after
   * `timeoutMs`, `E_ABORTED` when `signal` aborts.
   */
  waitFor(responseId: string, timeoutMs: number, signal?: AbortSignal): Promise<BillNotice>;
  close(): Promise<void>;
}

const AUTH = /^auth-v2\/([^/]+)\/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)\/([^/]+)\/([0-9a-f]{64})$/;

/** Whether `authorization` is a valid auth-v2 signature of the request by `opts.ak`. */
function verified(
  req: http.IncomingMessage,
  body: Buffer,
  authorization: string | undefined,
  opts: CallbackReceiverOptions,
): boolean {
  const m = AUTH.exec(authorization?.trim() ?? '');
  if (!m) return false;
  const [, ak, stamp = '', signed = '', signature = ''] = m;
  if (ak !== opts.ak) return false;
  const time = new Date(stamp);
  if (Math.abs(time.getTime() - (opts.now ?? Date.now)()) > (opts.skewMs ?? 15 * 60_000)) return false;
  const names = signed.split(';');
  const url = new URL(req.url ?? '/', 'http://x');
  const received = req.headers.host ?? '';
  const hosts = new Set([received, ...(opts.publicHosts ?? [])]);
  for (const host of hosts) {
    const headers: Record<string, string> = {};
    for (const n of names) {
      const v = n === 'host' ? host : req.headers[n];
      headers[n] = Array.isArray(v) ? v.join(', ') : (v ?? '');
    }
    const s = signAuthV2({
      ak: opts.ak,
      sk: opts.sk,
      method: req.method ?? 'POST',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body,
      time,
    });
    // The prefix must be the one signed, with the timestamp as received (a `.SSS` form is not Huawei's).
    if (authV2Timestamp(time) !== stamp || s.signedHeaders !== signed) return false;
    if (timingSafeEqual(Buffer.from(s.signature), Buffer.from(signature))) return true;
  }
  return false;
}

/** Parses a callback body; undefined when it is not the documented shape. */
function notice(body: Buffer): BillNotice | undefined {
  try {
    const j = JSON.parse(body.toString('utf8')) as { msgBody?: Record<string, unknown> };
    const m = j.msgBody;
    if (!m || typeof m.billFileName !== 'string') return undefined;
    const n: BillNotice = { billFileName: checkBillFileName(m.billFileName) };
    if (typeof m.responseId === 'string' && m.responseId) n.responseId = m.responseId;
    if (typeof m.accountId === 'string' && m.accountId) n.accountId = m.accountId;
    return n;
  } catch {
    return undefined;
  }
}

/** Starts the receiver. Throws `E_USAGE` when the address cannot be listened on. */
export async function startCallbackReceiver(opts: CallbackReceiverOptions): Promise<CallbackReceiver> {
  const path = opts.path ?? '/';
  const notices = new Map<string, BillNotice>();
  const waiters = new Set<() => void>();
  let refused = 0;
  const answer = (res: http.ServerResponse, status: number, code: string, desc: string) => {
    if (status !== 200) refused++;
    const text = JSON.stringify({ resultCode: code, resultDesc: desc });
    res.writeHead(status, {
      'content-type': 'application/json;charset=UTF-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  const server = http.createServer(async (req, res) => {
    try {
      if (new URL(req.url ?? '/', 'http://x').pathname !== path) return answer(res, 404, '404', 'not found');
      if (req.method !== 'POST') return answer(res, 405, '405', 'only POST');
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > 64 * 1024) return answer(res, 413, '413', 'body too large');
        chunks.push(c);
      }
      const body = Buffer.concat(chunks);
      if (!verified(req, body, req.headers.authorization, opts))
        return answer(res, 401, '401', 'unauthorized');
      const n = notice(body);
      if (!n) return answer(res, 400, '400', 'expected msgBody.billFileName');
      notices.set(n.responseId ?? `file:${n.billFileName}`, n);
      for (const w of [...waiters]) w();
      return answer(res, 200, '0', 'success');
    } catch {
      if (!res.headersSent) answer(res, 400, '400', 'bad request');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new RecpullError(
          'E_USAGE',
          `cannot listen for the CC-FS callback on ${opts.host}:${opts.port}: ${err.code ?? err.message}`,
        ),
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostPart = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    localUrl: `http://${hostPart}:${port}${path}`,
    port,
    get refused() {
      return refused;
    },
    waitFor(responseId, timeoutMs, signal) {
      return new Promise<BillNotice>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          signal?.removeEventListener('abort', onAbort);
        };
        const check = () => {
          // A callback without responseId is matched by the bill file name CC-FS builds from it.
          const n =
            notices.get(responseId) ??
            [...notices.values()].find(
              (x) => !x.responseId && x.billFileName.includes(`_${responseId.replace(/-/g, '')}.`),
            );
          if (n) {
            done();
            resolve(n);
          }
        };
        const onAbort = () => {
          done();
          reject(new RecpullError('E_ABORTED', 'interrupted'));
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new RecpullError(
              'E_TIMEOUT',
              `no queryBillData callback for responseId ${responseId} within ${Math.round(timeoutMs / 1000)} s: ` +
                `check that CC-FS can reach the callback URL (a reverse proxy or an open port to ${hostPart}:${port})`,
            ),
          );
        }, timeoutMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
