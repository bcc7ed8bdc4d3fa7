/**
 * A loopback emulator of Huawei CC-FS (HTTPS): downloadRecord, downloadBillFile and queryBillData with its
 * signed callback, every request checked with auth-v2 (./auth.ts, written independently of src/vendors).
 *
 * Reference: /work/shared/reference/huawei/ccfs-interface-reference-extract.txt (4.1.2 queryBillData, 4.1.3
 * downloadBillFile, 4.1.5 downloadRecord, 4.2.1 index files, 5.1 result codes, 5.2 HTTP 401/403 bodies),
 * seeds/huawei-cc-fs-download-record-extended.txt, huawei/ccfs-auth-v2-notes.md.
 *
 * Behaviour:
 * - a wrong signature → 401 `{timestamp,status,error,message,path}`; `lockAfter` (3) wrong ones in a row from
 *   one client address → 403 for every later request of that address; a timestamp outside `skewMs` is wrong;
 * - Host: every reading is accepted by default (as received, without port, with the server's port);
 *   `hostMode` makes the emulator strict about one;
 * - a fileName → its WAV; a call id with one recording → the WAV, with several → a zip (yazl, streamed);
 *   `hostileCallIds` → hand-written hostile zips; `Z:/error/<code>/...` → that resultCode;
 * - flow control: `flowControl(n)` answers the next n downloadRecord requests with 0300008, and more than
 *   `maxInFlight` concurrent downloads get 0300008 too;
 * - queryBillData builds a bill file of the recordings in the window and POSTs its name to callBackURL, signed.
 * The request log never holds an Authorization header: only its scheme, AK and the check's outcome.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { type FaultPlan, FaultInjector } from '../faults.js';
import { type LoggedRequest, readBody, sendBody, startServer } from '../server.js';
import { type CheckOptions, authV2Header, checkAuthV2 } from './auth.js';
import {
  type CcFsCall,
  type CcFsRecording,
  cdrCsv,
  makeCalls,
  recordIndexCsv,
  recordingChunks,
  wallTime,
} from './catalogue.js';
import { HOSTILE_KINDS, type HostileKind, hostileZip, streamZip } from './zips.js';
import { makeWav } from '../catalogue.js';

export type { CcFsCall, CcFsRecording } from './catalogue.js';
export { HOSTILE_KINDS, type HostileKind } from './zips.js';

/** Options of {@link startCcFsSandbox}; all have defaults. Sizes in bytes, times in ms. */
export interface CcFsSandboxOptions {
  /** Default `sandbox-ccfs-ak`. */
  ak?: string;
  /** Default `sandbox-ccfs-sk-0123456789`. */
  sk?: string;
  /** Call center id (default `1`). */
  ccId?: string;
  /** Calls with one recording (default 30) and with several (default 4, `recordingsPerMultiCall` = 3 each). */
  singleCalls?: number;
  multiCalls?: number;
  recordingsPerMultiCall?: number;
  /** The tenant's time zone (index times, queryBillData windows). Default `Asia/Shanghai`. */
  zone?: string;
  /** Calls lie in the two days before this (default: start time minus one hour). */
  to?: Date;
  seed?: number;
  minBytes?: number;
  maxBytes?: number;
  /** Accepted clock skew of signatures (default 300 000). */
  skewMs?: number;
  /** Wrong signatures in a row after which a client address is locked (default 3). */
  lockAfter?: number;
  hostMode?: CheckOptions['hostMode'];
  /** Concurrent downloadRecord requests above which 0300008 is answered (default unlimited). */
  maxInFlight?: number;
  /** Delay before the queryBillData callback is posted (default 20). */
  callbackDelayMs?: number;
  /** Enterprise account (tenant space id) in index lines and callbacks. Default `sandbox-tenant`. */
  accountId?: string;
  /** The `developer` column of index lines. Default `sandbox-developer`. */
  developer?: string;
  /** Fixed port (default: a free one). */
  port?: number;
  /**
   * Faults of downloadRecord bodies (WAVs and zips), chosen per fileName or callId: `reset`, `bytesPerSecond`,
   * `latencyMs`, `truncate` and `serverError` (WAVs), `errors.flowControl` (0300008).
   */
  faults?: FaultPlan;
}

/** One logged request, with what the emulator made of it. */
export interface CcFsLoggedRequest extends LoggedRequest {
  /** `downloadRecord`, `downloadBillFile`, `queryBillData`. */
  op?: string;
  /** `ok` or why the signature was refused (`bad-signature`, `clock-skew`, `locked`...). */
  authResult?: string;
  /** The AK named by the header. */
  ak?: string;
  /** The Host header received. */
  host?: string;
  fileName?: string;
  callId?: string;
  /** `typeof msgBody.ccId` (CC-FS documents a string). */
  ccIdType?: string;
  billFileName?: string;
  /** `wav`, `zip`, `hostile-zip`, `bill` or the resultCode answered. */
  answer?: string;
  /** The raw body bytes received (requests are small JSON). */
  bodyText?: string;
}

/** A callback the emulator posted. */
export interface CcFsCallbackSent {
  url: string;
  status: number | string;
  billFileName: string;
  responseId: string;
}

/** A running CC-FS emulator. */
export interface CcFsSandbox {
  /** `https://127.0.0.1:<port>` (trust `sandboxCertificate()` from src/sandbox/server.ts). */
  url: string;
  port: number;
  ak: string;
  sk: string;
  ccId: string;
  zone: string;
  calls: CcFsCall[];
  /** Every recording, call by call. */
  catalogue: CcFsRecording[];
  log: CcFsLoggedRequest[];
  /** The WAV bytes served for a fileName. */
  contentOf(fileName: string): Buffer;
  /** Call ids that answer a hostile zip, by kind. */
  hostileCallIds: Record<HostileKind, string>;
  /** A bill file (name) listing every recording of the catalogue, ready for downloadBillFile. */
  billFile: string;
  /** Registers a bill file of `recordings` and returns its name. */
  makeBillFile(recordings: CcFsRecording[]): string;
  /** The next `n` downloadRecord requests get flow control (`code`, default 0300008). */
  flowControl(n: number, code?: string): void;
  readonly flowControlSent: number;
  callbacksSent: CcFsCallbackSent[];
  /** Whether some client address is locked (403). */
  readonly locked: boolean;
  unlock(): void;
  close(): Promise<void>;
}

const DESCS: Record<string, string> = {
  '0300006': 'The value of version is error, current version is 2.0 .',
  '0300007': 'The params of requestBody is null.',
  '0300008': 'Reached the download flow control threshold.',
  '0300009': 'Reached the query flow control threshold.',
  '0300011': 'The file does not exist.',
  '0300012': 'No data found.',
  '0300013': 'The beginTime cannot be later than the endTime.',
  '0300014': 'The maximum duration between the beginTime and endTime is 3 days.',
  '0300018': 'This record belongs to another developer.',
  '0300019': 'Specify at least one of fileName and callId.',
  '0300022': 'The parameter fileName value contains illegal characters.',
  '0300027': 'Parameter callBackURL is empty.',
};

const OCTET = 'Application/Octet-stream;charset=UTF-8';
const PATHS: Record<string, string> = {
  '/CCFS/resource/ccfs/downloadRecord': 'downloadRecord',
  '/CCFS/resource/ccfs/downloadBillFile': 'downloadBillFile',
  '/CCFS/resource/ccfs/queryBillData': 'queryBillData',
};
const WALL = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/** Sends a CC-FS result JSON (HTTP 200, 5.1). */
function sendResult(res: http.ServerResponse, entry: CcFsLoggedRequest, code: string, data: unknown = null) {
  entry.answer = code;
  const desc = DESCS[code] ?? (code === '0' ? 'success' : 'Injected error.');
  const text = JSON.stringify({
    resultCode: code,
    resultDesc: desc,
    resultData: data,
    response: { version: '2.0', resultCode: code, resultMsg: desc },
  });
  res.writeHead(200, {
    'content-type': 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Sends the 401/403/404 body of 5.2. */
function sendStatus(res: http.ServerResponse, status: 401 | 403 | 404 | 405, path: string) {
  const error = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed' }[
    status
  ];
  const text = JSON.stringify({
    timestamp: Date.now(),
    status,
    error,
    message: 'No message available',
    path,
  });
  res.writeHead(status, {
    'content-type': 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Pipes a readable into the response (chunked) and waits for the end. */
function pipeBody(res: http.ServerResponse, body: Readable): Promise<void> {
  res.writeHead(200, { 'content-type': OCTET });
  return new Promise<void>((resolve) => {
    body.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', () => resolve());
    body.pipe(res);
  });
}

/**
 * Sends a streamed zip (chunked) with the body faults of `plan`: throttled to `bytesPerSecond`, and for
 * `reset` the connection destroyed after `reset.afterBytes` (default 4 KiB) of it.
 */
async function sendZip(
  res: http.ServerResponse,
  body: Readable,
  plan: FaultPlan,
  fault: string | undefined,
): Promise<void> {
  if (!plan.bytesPerSecond && fault !== 'reset') return pipeBody(res, body);
  if (plan.latencyMs) await new Promise((r) => setTimeout(r, plan.latencyMs));
  res.writeHead(200, { 'content-type': OCTET });
  const resetAt = fault === 'reset' ? (plan.reset?.afterBytes ?? 4096) : Number.POSITIVE_INFINITY;
  let sent = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length; off += 16 * 1024) {
        const piece = chunk.subarray(off, Math.min(chunk.length, off + 16 * 1024, off + resetAt - sent));
        if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
        sent += piece.length;
        if (sent >= resetAt) {
          await new Promise((r) => setTimeout(r, 20));
          res.socket?.resetAndDestroy();
          return;
        }
        if (plan.bytesPerSecond)
          await new Promise((r) => setTimeout(r, (piece.length / plan.bytesPerSecond!) * 1000));
        if (res.destroyed) return;
      }
    }
    res.end();
  } finally {
    body.destroy();
  }
}

/** Writes generated chunks with a Content-Length, honouring backpressure. */
async function writeChunks(
  res: http.ServerResponse,
  chunks: Iterable<Buffer>,
  length: number,
): Promise<void> {
  res.writeHead(200, { 'content-type': OCTET, 'content-length': length });
  for (const c of chunks) {
    if (res.destroyed) return;
    if (!res.write(c)) await new Promise((r) => res.once('drain', r));
  }
  res.end();
}

/** Starts the emulator on 127.0.0.1 (HTTPS with the sandbox certificate). */
export async function startCcFsSandbox(opts: CcFsSandboxOptions = {}): Promise<CcFsSandbox> {
  const ak = opts.ak ?? 'sandbox-ccfs-ak';
  const sk = opts.sk ?? 'sandbox-ccfs-sk-0123456789';
  const ccId = opts.ccId ?? '1';
  const zone = opts.zone ?? 'Asia/Shanghai';
  const seed = opts.seed ?? 1;
  const accountId = opts.accountId ?? 'sandbox-tenant';
  const developer = opts.developer ?? 'sandbox-developer';
  const calls = makeCalls({
    singleCalls: opts.singleCalls ?? 30,
    multiCalls: opts.multiCalls ?? 4,
    recordingsPerMultiCall: opts.recordingsPerMultiCall ?? 3,
    ccId,
    to: (opts.to ?? new Date(Date.now() - 3600_000)).getTime(),
    zone,
    seed,
    minBytes: opts.minBytes ?? 16_000,
    maxBytes: opts.maxBytes ?? 48_000,
  });
  const catalogue = calls.flatMap((c) => c.recordings);
  const byFile = new Map(catalogue.map((r) => [r.fileName, r]));
  const byCall = new Map(calls.map((c) => [c.callId, c]));
  const hostileCallIds = Object.fromEntries(HOSTILE_KINDS.map((k) => [k, `evil-${k}`])) as Record<
    HostileKind,
    string
  >;
  const hostileCache = new Map<HostileKind, Buffer>();
  const bills = new Map<string, CcFsRecording[]>();
  const log: CcFsLoggedRequest[] = [];
  const callbacksSent: CcFsCallbackSent[] = [];
  const wrongInARow = new Map<string, number>();
  const lockedAddresses = new Set<string>();
  let pendingFlowControl: { n: number; code: string } = { n: 0, code: '0300008' };
  let flowControlSent = 0;
  let inFlight = 0;
  const listening = { port: 0 };
  const lockAfter = opts.lockAfter ?? 3;
  const plan: FaultPlan = opts.faults ?? {};
  const faults = new FaultInjector(plan);

  const makeBillFile = (recs: CcFsRecording[], responseId = randomBytes(16).toString('hex')): string => {
    const name = `${wallTime(Date.now(), zone).slice(0, 10).replace(/-/g, '')}_${responseId}.zip`;
    bills.set(name, recs);
    return name;
  };
  const billFile = makeBillFile(catalogue);

  const postCallback = (url: string, responseId: string, billFileName: string) => {
    const u = new URL(url);
    const body = Buffer.from(
      JSON.stringify({ request: { version: '2.0' }, msgBody: { responseId, billFileName, accountId: '' } }),
    );
    const headers = {
      'content-length': String(body.length),
      'content-type': 'application/json;charset=UTF-8',
      host: u.host,
    };
    const authorization = authV2Header(
      { method: 'POST', path: u.pathname, query: [...u.searchParams], headers, body },
      ak,
      sk,
      new Date(),
    );
    const record: CcFsCallbackSent = { url, status: 'pending', billFileName, responseId };
    callbacksSent.push(record);
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(
      u,
      { method: 'POST', headers: { ...headers, authorization, accept: '*/*' }, rejectUnauthorized: false },
      (res) => {
        record.status = res.statusCode ?? 0;
        res.resume();
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      record.status = err.code ?? 'error';
    });
    req.end(body);
  };

  /** Sends a recording's WAV, with the fault the plan picks for `id` (its fileName or callId). */
  const sendWav = async (
    res: http.ServerResponse,
    entry: CcFsLoggedRequest,
    r: CcFsRecording,
    id: string,
  ) => {
    const fault = faults.next(id);
    if (fault === 'flowControl') {
      flowControlSent++;
      return sendResult(res, entry, '0300008');
    }
    entry.answer = 'wav';
    if (!fault && !plan.bytesPerSecond && !plan.latencyMs)
      return writeChunks(res, recordingChunks(r, seed), r.bytes);
    if (fault) entry.fault = fault;
    if (fault === 'serverError') {
      res.writeHead(plan.serverError?.status ?? 500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error');
      return;
    }
    return sendBody(res, { length: r.bytes, chunks: () => recordingChunks(r, seed) }, OCTET, plan, fault);
  };

  const downloadRecord = async (
    res: http.ServerResponse,
    entry: CcFsLoggedRequest,
    m: Record<string, unknown>,
  ) => {
    if (m.ccId !== undefined) entry.ccIdType = typeof m.ccId;
    if (pendingFlowControl.n > 0) {
      pendingFlowControl.n--;
      flowControlSent++;
      return sendResult(res, entry, pendingFlowControl.code);
    }
    if (opts.maxInFlight !== undefined && inFlight >= opts.maxInFlight) {
      flowControlSent++;
      return sendResult(res, entry, '0300008');
    }
    if (m.ccId !== undefined && String(m.ccId) !== ccId) return sendResult(res, entry, '0300012');
    inFlight++;
    try {
      if (typeof m.fileName === 'string' && m.fileName !== '') {
        const fileName = m.fileName;
        entry.fileName = fileName;
        if (!/^[A-Za-z0-9:/.]+$/.test(fileName)) return sendResult(res, entry, '0300022');
        const injected = /^Z:\/error\/(\d{7})\//.exec(fileName);
        if (injected) return sendResult(res, entry, injected[1] as string);
        const r = byFile.get(fileName);
        if (!r) return sendResult(res, entry, '0300011');
        return await sendWav(res, entry, r, fileName);
      }
      if (typeof m.callId === 'string' && m.callId !== '') {
        entry.callId = m.callId;
        const kind = HOSTILE_KINDS.find((k) => hostileCallIds[k] === m.callId);
        if (kind) {
          let zip = hostileCache.get(kind);
          if (!zip) {
            zip = hostileZip(kind, makeWav(`good-${kind}`, 4000, seed));
            hostileCache.set(kind, zip);
          }
          entry.answer = 'hostile-zip';
          res.writeHead(200, { 'content-type': OCTET, 'content-length': zip.length });
          res.end(zip);
          return;
        }
        const call = byCall.get(m.callId);
        if (!call) return sendResult(res, entry, '0300012');
        if (call.recordings.length === 1)
          return await sendWav(res, entry, call.recordings[0] as CcFsRecording, m.callId);
        const fault = faults.next(m.callId);
        if (fault === 'flowControl') {
          flowControlSent++;
          return sendResult(res, entry, '0300008');
        }
        entry.answer = 'zip';
        if (fault) entry.fault = fault;
        return await sendZip(
          res,
          streamZip(
            call.recordings.map((r) => ({ name: r.entryName, chunks: () => recordingChunks(r, seed) })),
          ),
          plan,
          fault,
        );
      }
      return sendResult(res, entry, '0300019');
    } finally {
      inFlight--;
    }
  };

  const downloadBillFile = async (
    res: http.ServerResponse,
    entry: CcFsLoggedRequest,
    m: Record<string, unknown>,
  ) => {
    const name = typeof m.billFileName === 'string' ? m.billFileName : '';
    entry.billFileName = name;
    if (!/^[A-Za-z0-9._-]{1,49}$/.test(name)) return sendResult(res, entry, '0300022');
    const recs = bills.get(name);
    if (!recs) return sendResult(res, entry, '0300011');
    const stamp = `${wallTime(Date.now(), zone).replace(/\D/g, '')}000123`;
    const callsIn = calls.filter((c) => recs.some((r) => r.callId === c.callId));
    entry.answer = 'bill';
    return pipeBody(
      res,
      streamZip([
        { name: `${stamp}_call.csv`, chunks: () => [Buffer.from(cdrCsv(callsIn, developer, accountId))] },
        {
          name: `${stamp}_record.csv`,
          chunks: () => [Buffer.from(recordIndexCsv(recs, developer, accountId))],
        },
      ]),
    );
  };

  const queryBillData = (res: http.ServerResponse, entry: CcFsLoggedRequest, m: Record<string, unknown>) => {
    const begin = String(m.beginTime ?? '');
    const end = String(m.endTime ?? '');
    if (!WALL.test(begin) || !WALL.test(end)) return sendResult(res, entry, '0300004');
    if (begin > end) return sendResult(res, entry, '0300013');
    const span = Date.parse(`${end.replace(' ', 'T')}Z`) - Date.parse(`${begin.replace(' ', 'T')}Z`);
    if (span > 3 * 86400_000) return sendResult(res, entry, '0300014');
    const url = typeof m.callBackURL === 'string' ? m.callBackURL : '';
    if (!url) return sendResult(res, entry, '0300027');
    const responseId = randomBytes(16).toString('hex');
    const recs = catalogue.filter((r) => r.callBegin >= begin && r.callBegin <= end);
    const name = makeBillFile(recs, responseId);
    sendResult(res, entry, '0', { responseId });
    setTimeout(() => postCallback(url, responseId, name), opts.callbackDelayMs ?? 20).unref();
  };

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse, e: LoggedRequest) => {
    const entry = e as CcFsLoggedRequest;
    const authorization = req.headers.authorization;
    delete entry.auth;
    if (authorization) entry.auth = authorization.split('/')[0];
    entry.host = req.headers.host ?? '';
    const op = PATHS[entry.path];
    if (!op) return sendStatus(res, 404, entry.path);
    entry.op = op;
    if (entry.method !== 'POST') return sendStatus(res, 405, entry.path);
    const text = await readBody(req);
    entry.bodyText = text;
    const client = req.socket.remoteAddress ?? '?';
    if (lockedAddresses.has(client)) {
      entry.authResult = 'locked';
      return sendStatus(res, 403, entry.path);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const url = new URL(req.url ?? '/', 'http://x');
    const check = checkAuthV2(
      authorization,
      {
        method: 'POST',
        path: url.pathname,
        query: [...url.searchParams],
        headers,
        body: Buffer.from(text, 'utf8'),
      },
      {
        keys: new Map([[ak, sk]]),
        now: Date.now(),
        skewMs: opts.skewMs ?? 300_000,
        hostMode: opts.hostMode ?? 'any',
        serverPort: listening.port,
      },
    );
    if (check.ak !== undefined) entry.ak = check.ak;
    if (!check.ok) {
      entry.authResult = check.why;
      const n = (wrongInARow.get(client) ?? 0) + 1;
      wrongInARow.set(client, n);
      if (n >= lockAfter) lockedAddresses.add(client);
      return sendStatus(res, 401, entry.path);
    }
    entry.authResult = 'ok';
    wrongInARow.delete(client);
    let parsed: { request?: { version?: unknown }; msgBody?: Record<string, unknown> };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      return sendResult(res, entry, '0300007');
    }
    if (parsed.request?.version !== '2.0') return sendResult(res, entry, '0300006');
    const m = parsed.msgBody;
    if (!m || typeof m !== 'object') return sendResult(res, entry, '0300007');
    if (op === 'downloadRecord') return downloadRecord(res, entry, m);
    if (op === 'downloadBillFile') return downloadBillFile(res, entry, m);
    return queryBillData(res, entry, m);
  };

  const srv = await startServer('cc-fs', handler, log, {
    tls: true,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
  });
  listening.port = srv.port;
  return {
    url: srv.url,
    port: srv.port,
    ak,
    sk,
    ccId,
    zone,
    calls,
    catalogue,
    log,
    contentOf: (fileName) => {
      const r = byFile.get(fileName);
      if (!r) throw new Error(`no recording ${fileName}`);
      return Buffer.concat([...recordingChunks(r, seed)]);
    },
    hostileCallIds,
    billFile,
    makeBillFile: (recs) => makeBillFile(recs),
    flowControl: (n, code = '0300008') => {
      pendingFlowControl = { n, code };
    },
    get flowControlSent() {
      return flowControlSent;
    },
    callbacksSent,
    get locked() {
      return lockedAddresses.size > 0;
    },
    unlock: () => {
      lockedAddresses.clear();
      wrongInARow.clear();
    },
    close: () => srv.close(),
  };
}
