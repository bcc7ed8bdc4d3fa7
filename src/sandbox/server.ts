/**
 * Loopback HTTP(S) servers for the sandbox emulators: listen on 127.0.0.1 on a free port, keep a request
 * log that tests read, and send bodies through the fault plan (latency, throttling, reset, truncation).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Fault, FaultPlan } from './faults.js';

/** One request as an emulator saw it. `headers` exclude `authorization`; `auth` says which scheme was used. */
export interface LoggedRequest {
  at: number;
  server: string;
  method: string;
  path: string;
  query: Record<string, string>;
  auth?: string;
  range?: string;
  status?: number;
  fault?: Fault;
}

/** A running emulator listener. */
export interface LoopbackServer {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** An emulator's request handler; `entry` is its line in the request log (it may add `fault`). */
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, entry: LoggedRequest) => unknown;

/**
 * Starts a server on 127.0.0.1 (port 0 = a free one). With `tls`, HTTPS with the sandbox's self-signed
 * certificate (`sandbox-cert.pem`, for 127.0.0.1 and localhost). Every request is appended to `log`.
 */
export async function startServer(
  name: string,
  handler: Handler,
  log: LoggedRequest[],
  opts: { tls?: boolean; port?: number } = {},
): Promise<LoopbackServer> {
  const wrapped = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const entry: LoggedRequest = {
      at: Date.now(),
      server: name,
      method: req.method ?? 'GET',
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
    };
    const auth = req.headers.authorization;
    if (auth) entry.auth = auth.split(/[ /]/)[0]; // the scheme only: never a credential or signature
    if (req.headers.range) entry.range = req.headers.range;
    log.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
    try {
      await handler(req, res, entry);
    } catch (err) {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      } else res.destroy();
    }
  };
  const server = opts.tls
    ? https.createServer({ key: readPem('sandbox-key.pem'), cert: readPem('sandbox-cert.pem') }, wrapped)
    : http.createServer(wrapped);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function readPem(file: string): Buffer {
  return readFileSync(new URL(`../../src/sandbox/${file}`, import.meta.url));
}

/** The sandbox's self-signed CA certificate (PEM), for clients that must trust the HTTPS emulators. */
export function sandboxCertificate(): string {
  return readPem('sandbox-cert.pem').toString('utf8');
}

/** Reads a request body as text (small bodies: token requests, JSON). */
export async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends JSON with a status. */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** An HTML error page, as proxies and app servers send with status 200 when things go wrong. */
export const HTML_ERROR_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Error</title></head><body><h1>Session expired</h1><p>Please log in again.</p></body></html>\n';

/**
 * A body an emulator serves without holding it: its length in bytes and its bytes from an offset, in
 * chunks (a 500 MB recording is generated as it is sent).
 */
export interface BodySource {
  length: number;
  chunks(start: number): Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

/** A body held in memory, as a `BodySource`. */
export function bufferBody(content: Buffer): BodySource {
  return {
    length: content.length,
    *chunks(start) {
      for (let off = start; off < content.length; off += 64 * 1024)
        yield content.subarray(off, off + 64 * 1024);
    },
  };
}

/**
 * Sends `content` (or the bytes from `start` as a 206) applying the body faults of `fault`: `reset` destroys
 * the socket part-way, `truncate` sends fewer bytes under a matching Content-Length, `html` sends an error
 * page with status 200. Honours `plan.bytesPerSecond` and `plan.latencyMs`. `content` is streamed.
 */
export async function sendBody(
  res: http.ServerResponse,
  content: Buffer | BodySource,
  contentType: string,
  plan: FaultPlan,
  fault: Fault | undefined,
  extraHeaders: http.OutgoingHttpHeaders = {},
  start = 0,
): Promise<void> {
  if (plan.latencyMs) await sleep(plan.latencyMs);
  if (fault === 'html') {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(HTML_ERROR_PAGE),
    });
    res.end(HTML_ERROR_PAGE);
    return;
  }
  const source = Buffer.isBuffer(content) ? bufferBody(content) : content;
  const whole = source.length - start;
  const length =
    fault === 'truncate' ? Math.min(whole, plan.truncate?.keepBytes ?? Math.floor(whole / 2)) : whole;
  const headers: http.OutgoingHttpHeaders = {
    'content-type': contentType,
    'content-length': length,
    ...extraHeaders,
  };
  if (start > 0) headers['content-range'] = `bytes ${start}-${source.length - 1}/${source.length}`;
  res.writeHead(start > 0 ? 206 : 200, headers);
  const resetAt =
    fault === 'reset' ? (plan.reset?.afterBytes ?? Math.floor(length / 2)) : Number.POSITIVE_INFINITY;
  const rate = plan.bytesPerSecond ?? 0;
  let sent = 0;
  for await (const chunk of source.chunks(start)) {
    // 16 KiB pieces, so throttling and resets land where they would on a real wire.
    for (let off = 0; off < chunk.length; off += 16 * 1024) {
      const end = Math.min(chunk.length, off + 16 * 1024, off + length - sent, off + resetAt - sent);
      if (end > off) {
        const ok = res.write(chunk.subarray(off, end));
        if (!ok) await new Promise((r) => res.once('drain', r));
        sent += end - off;
      }
      if (sent >= resetAt) {
        await sleep(20); // let the bytes reach the client before the reset
        res.socket?.resetAndDestroy();
        return;
      }
      if (rate > 0 && end > off) await sleep(((end - off) / rate) * 1000);
      if (res.destroyed) return;
      if (sent >= length) break;
    }
    if (sent >= length) break;
  }
  res.end();
}
