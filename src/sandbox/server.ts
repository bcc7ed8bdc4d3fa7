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
    if (auth) entry.auth = auth.split(' ')[0];
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
 * Sends `content` (or the byte range `start`..end of it as a 206) applying the body faults of `fault`:
 * `reset` destroys the socket part-way, `truncate` sends fewer bytes under a matching Content-Length,
 * `html` sends an error page with status 200. Honours `plan.bytesPerSecond` and `plan.latencyMs`.
 */
export async function sendBody(
  res: http.ServerResponse,
  content: Buffer,
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
  let body = start > 0 ? content.subarray(start) : content;
  if (fault === 'truncate') body = body.subarray(0, plan.truncate?.keepBytes ?? Math.floor(body.length / 2));
  const headers: http.OutgoingHttpHeaders = {
    'content-type': contentType,
    'content-length': body.length,
    ...extraHeaders,
  };
  if (start > 0) headers['content-range'] = `bytes ${start}-${content.length - 1}/${content.length}`;
  res.writeHead(start > 0 ? 206 : 200, headers);
  const resetAt =
    fault === 'reset' ? (plan.reset?.afterBytes ?? Math.floor(body.length / 2)) : Number.POSITIVE_INFINITY;
  const chunk = 16 * 1024;
  const rate = plan.bytesPerSecond ?? 0;
  for (let off = 0; off < body.length; off += chunk) {
    const end = Math.min(off + chunk, body.length, resetAt);
    if (end > off) {
      const ok = res.write(body.subarray(off, end));
      if (!ok) await new Promise((r) => res.once('drain', r));
    }
    if (end >= resetAt) {
      await sleep(20); // let the bytes reach the client before the reset
      res.socket?.resetAndDestroy();
      return;
    }
    if (rate > 0) await sleep(((end - off) / rate) * 1000);
    if (res.destroyed) return;
  }
  res.end();
}
