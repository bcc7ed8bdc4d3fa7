/**
 * The CC-FS client of one profile: signs each POST with auth-v2 over the exact Host and body bytes sent
 * (./auth-v2.ts), and interprets the answers (./errors.ts). Safe to share between workers.
 *
 * - Until one request has been accepted, requests go one at a time: a wrong AK/SK costs exactly one request,
 *   not one per worker (CC-FS locks the caller's IP after repeated failures). After a 401/403 every later call
 *   throws the same error without sending anything.
 * - Flow control (0300008/0300009) penalizes the shared `limiter`, so every worker waits, and throws a
 *   retryable `E_RATE_LIMIT` for the item.
 * Reference: huawei/ccfs-interface-reference-extract.txt 4.1.2, 4.1.3, 4.1.5, 5.1, 5.2; ccfs-auth-v2-notes.md.
 */
import { RecpullError } from '../../core/errors.js';
import { fetchedBody, type HttpClient, type HttpResponse, readText, statusError } from '../../core/http.js';
import type { RateLimiter, RateSlot } from '../../core/rate-limit.js';
import { registerSecret } from '../../core/redact.js';
import type { FetchedBody } from '../../core/source.js';
import { authV2Timestamp, signAuthV2 } from './auth-v2.js';
import { authError, type CcFsResult, isFlowControl, resultError } from './errors.js';
import {
  CCFS_CONTENT_TYPE,
  CCFS_PATHS,
  type CcFsOperation,
  type CcFsTarget,
  checkBillFileName,
  downloadRecordBody,
  requestBody,
} from './protocol.js';

/** Settings of {@link CcFsClient}. Times in ms. */
export interface CcFsClientOptions {
  /** Scheme, host and port of CC-FS or the NSLB in front of it (`https://ccfs.example.com:28443`). */
  url: string;
  ak: string;
  /** Secret key; registered with the redactor. */
  sk: string;
  /** The Host value both sent and signed; default the URL's host (with its port when it has one). */
  hostHeader?: string;
  /** Profile name, for error messages. */
  profile?: string;
  /** The run's limiter for CC-FS requests, shared by every worker (flow control penalizes it). */
  limiter?: RateLimiter;
  /** How long every worker pauses after a flow-control answer, ms (default 5000). */
  flowControlPauseMs?: number;
  /** Clock, epoch ms (default Date.now). */
  now?: () => number;
}

/** What downloadRecord returned: one recording (`audio`) or a zip of several recordings of one call (`bundle`). */
export interface CcFsDownload {
  kind: 'audio' | 'bundle';
  fetched: FetchedBody;
}

/** queryBillData's msgBody (4.1.2 Table 3); times `yyyy-MM-dd HH:mm:ss` in the tenant's zone, ≤ 3 days apart. */
export interface BillQuery {
  beginTime: string;
  endTime: string;
  /** `call`, `record` or `call_record` (default). */
  dataType?: 'call' | 'record' | 'call_record';
  callBackURL: string;
  accountId?: string;
  agentId?: string;
  callId?: string;
  callerNo?: string;
  calleeNo?: string;
}

/** The head of a body and the whole body again (the head replayed, then the rest). */
async function peek(
  body: AsyncIterable<Uint8Array>,
  want: number,
): Promise<{ head: Buffer; body: AsyncIterable<Uint8Array> }> {
  const it = body[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let n = 0;
  let done = false;
  while (n < want) {
    const next = await it.next();
    if (next.done) {
      done = true;
      break;
    }
    seen.push(next.value);
    n += next.value.length;
  }
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield* seen;
    if (done) return;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head: Buffer.concat(seen), body: replay() };
}

/** Whether a body head (or Content-Type) says JSON: a failure answer. */
function looksJson(head: Buffer, contentType: string | undefined): boolean {
  return /json/i.test(contentType ?? '') || /^\s*\{/.test(head.subarray(0, 64).toString('latin1'));
}

/** The CC-FS client. See the module comment. */
export class CcFsClient {
  private readonly base: URL;
  private readonly host: string;
  private authFailure: RecpullError | undefined;
  private authOk = false;
  private probe: Promise<void> | undefined;
  /** Requests sent (for diagnostics and tests). */
  sent = 0;

  constructor(
    private readonly http: HttpClient,
    private readonly opts: CcFsClientOptions,
  ) {
    registerSecret(opts.sk);
    this.base = new URL(opts.url);
    this.host = opts.hostHeader ?? this.base.host;
  }

  /** Waits for the auth gate; returns its release. Throws the latched 401/403 error. */
  private async gate(): Promise<() => void> {
    for (;;) {
      if (this.authFailure) throw this.authFailure;
      if (this.authOk) return () => {};
      if (!this.probe) {
        let open: () => void = () => {};
        this.probe = new Promise<void>((resolve) => (open = resolve));
        return () => {
          this.probe = undefined;
          open();
        };
      }
      await this.probe;
    }
  }

  /**
   * Sends one signed POST of `msgBody` to `op` and returns the response if its status is 200 (not gated
   * itself: the operations below run it under the auth gate). Throws `E_AUTH`
   * (401) / `E_PERMISSION` (403), latched; `statusError` for other statuses; transport errors as
   * `HttpClient.request`.
   */
  async send(op: CcFsOperation, msgBody: Record<string, string>, signal: AbortSignal): Promise<HttpResponse> {
    if (this.authFailure) throw this.authFailure;
    let slot: RateSlot | undefined;
    try {
      slot = await this.opts.limiter?.acquire({ signal });
      const body = requestBody(msgBody);
      const path = `${this.base.pathname.replace(/\/+$/, '')}${CCFS_PATHS[op]}`;
      const headers = {
        'content-length': String(body.length),
        'content-type': CCFS_CONTENT_TYPE,
        host: this.host,
      };
      const time = new Date((this.opts.now ?? Date.now)());
      const { authorization } = signAuthV2({
        ak: this.opts.ak,
        sk: this.opts.sk,
        method: 'POST',
        path,
        headers,
        body,
        time,
      });
      this.sent++;
      const res = await this.http.request(new URL(path, this.base), {
        method: 'POST',
        headers: { ...headers, authorization, accept: '*/*' },
        body,
        signal,
      });
      slot?.release();
      slot = undefined;
      if (res.statusCode === 401 || res.statusCode === 403) {
        const text = await readText(res, 64 * 1024);
        this.authFailure ??= authError(
          res.statusCode,
          {
            timestamp: authV2Timestamp(time),
            host: this.host,
            hostHeaderSet: this.opts.hostHeader !== undefined,
            ...(this.opts.profile ? { profile: this.opts.profile } : {}),
          },
          text,
        );
        throw this.authFailure;
      }
      this.authOk = true;
      if (res.statusCode !== 200) throw statusError(res, op, await readText(res, 4096));
      return res;
    } finally {
      slot?.release();
    }
  }

  /**
   * Runs one operation (its request and the reading of its answer's head) under the auth gate, so the next
   * requests wait until the first one is judged: a 401/403, or a flow-control answer that pauses the limiter.
   */
  private async gated<T>(operation: () => Promise<T>): Promise<T> {
    const release = await this.gate();
    try {
      return await operation();
    } finally {
      release();
    }
  }

  /** Reads a JSON failure body and throws its error (pausing every worker on flow control). */
  private async failWith(res: HttpResponse | string, what: string): Promise<never> {
    const text = typeof res === 'string' ? res : await readText(res, 64 * 1024);
    let parsed: CcFsResult;
    try {
      parsed = JSON.parse(text) as CcFsResult;
    } catch {
      throw new RecpullError(
        'E_PROTOCOL',
        `${what}: CC-FS answered something that is neither a file nor JSON`,
        {
          retryable: true,
        },
      );
    }
    if (parsed.resultCode === undefined || String(parsed.resultCode) === '0')
      throw new RecpullError('E_PROTOCOL', `${what}: CC-FS answered JSON without a file`, {
        retryable: true,
      });
    const err = resultError(parsed, what);
    if (isFlowControl(err)) this.opts.limiter?.penalize(this.opts.flowControlPauseMs ?? 5000);
    throw err;
  }

  /**
   * downloadRecord (4.1.5): a WAV body → `audio`; a zip body (a call id with several recordings) → `bundle`;
   * a JSON body → the error of its resultCode (see ./errors.ts). Throws also what {@link send} throws.
   */
  async downloadRecord(t: CcFsTarget, signal: AbortSignal): Promise<CcFsDownload> {
    const what =
      t.kind === 'file' ? `downloadRecord fileName ${t.fileName}` : `downloadRecord callId ${t.callId}`;
    return this.gated(async () => {
      const res = await this.send('downloadRecord', downloadRecordBody(t), signal);
      const fetched = fetchedBody(res);
      const { head, body } = await peek(res.body, 8);
      if (looksJson(head, fetched.contentType)) return this.failWith(await collect(body), what);
      const zip = head.subarray(0, 2).toString('latin1') === 'PK';
      return { kind: zip ? 'bundle' : 'audio', fetched: { ...fetched, body, resumable: false } };
    });
  }

  /** downloadBillFile (4.1.3): the zip of CDR and recording index CSVs. Throws `E_INPUT` for a bad name. */
  async downloadBillFile(billFileName: string, signal: AbortSignal): Promise<FetchedBody> {
    const what = `downloadBillFile ${billFileName}`;
    return this.gated(() => this.billFile(billFileName, what, signal));
  }

  private async billFile(billFileName: string, what: string, signal: AbortSignal): Promise<FetchedBody> {
    const res = await this.send(
      'downloadBillFile',
      { billFileName: checkBillFileName(billFileName) },
      signal,
    );
    const fetched = fetchedBody(res);
    const { head, body } = await peek(res.body, 8);
    if (looksJson(head, fetched.contentType)) return this.failWith(await collect(body), what);
    if (head.subarray(0, 2).toString('latin1') !== 'PK')
      throw new RecpullError('E_PROTOCOL', `${what}: the answer is not a zip`);
    return { ...fetched, body, resumable: false };
  }

  /** queryBillData (4.1.2): asks CC-FS to build a bill file and post its name to `callBackURL`; returns responseId. */
  async queryBillData(q: BillQuery, signal: AbortSignal): Promise<string> {
    const msgBody: Record<string, string> = {
      beginTime: q.beginTime,
      endTime: q.endTime,
      dataType: q.dataType ?? 'call_record',
      callBackURL: q.callBackURL,
    };
    for (const k of ['accountId', 'agentId', 'callId', 'callerNo', 'calleeNo'] as const) {
      const v = q[k];
      if (v !== undefined) msgBody[k] = v;
    }
    const what = `queryBillData ${q.beginTime} – ${q.endTime}`;
    return this.gated(() => this.query(msgBody, what, signal));
  }

  private async query(msgBody: Record<string, string>, what: string, signal: AbortSignal): Promise<string> {
    const res = await this.send('queryBillData', msgBody, signal);
    const text = await readText(res, 64 * 1024);
    let parsed: CcFsResult & { resultData?: { responseId?: unknown } };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new RecpullError('E_PROTOCOL', `${what}: the answer is not JSON`, { retryable: true });
    }
    const id = parsed.resultData?.responseId;
    if (String(parsed.resultCode) === '0' && typeof id === 'string' && id !== '') return id;
    return this.failWith(text, what);
  }

  /** The Host value sent and signed. */
  get hostValue(): string {
    return this.host;
  }
}

/** Reads a (small, JSON) body, at most 64 KiB. */
async function collect(body: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    if (n < 65536) parts.push(Buffer.from(c));
    n += c.length;
  }
  return Buffer.concat(parts).toString('utf8').slice(0, 65536);
}
