/**
 * `recpull cc-fs`: which recordings to fetch and how (reference: huawei/ccfs-interface-reference-extract.txt
 * 4.1.2 queryBillData, 4.1.3 downloadBillFile, 4.1.5 downloadRecord, 4.2.1 index files).
 *
 * Selections: file names and call ids (flags or an input list), a recording index CSV (`--index`), bill files
 * by name (`--bill-file`: downloaded, unpacked, their `*_record.csv` read), or a time range (`cc-fs bills`:
 * queryBillData per window of at most three days, the bill file named by CC-FS's signed callback, then as
 * `--bill-file`). A call id answered with a zip is a bundle (`FetchedBody.bundle`): the engine unpacks it into
 * one folder. Every request goes through one RateLimiter for the run, which flow control (0300008/0300009)
 * penalises; its waits become `rate-limit-wait` events.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { RecpullError } from '../../core/errors.js';
import { now } from '../../core/events.js';
import { field } from '../../core/input.js';
import { inputRefs, scalarFields } from '../../core/input-refs.js';
import type { RateLimiter } from '../../core/rate-limit.js';
import { withRetries } from '../../core/request-policy.js';
import type {
  FetchContext,
  FetchedBody,
  InputRowError,
  OpenContext,
  RecordingRef,
  RefItem,
  Source,
} from '../../core/source.js';
import { extractZip, type ZipLimits } from '../../formats/zip.js';
import { startCallbackReceiver } from './callback.js';
import type { CcFsClient } from './client.js';
import { type CcFsTarget, checkCallId, checkCcId, normalizeFileName } from './protocol.js';
import { readRecordIndex } from './record-index.js';
import { CCFS_DEFAULT_TEMPLATE, CCFS_FIELDS, CCFS_VENDOR, ccfsRef, refOfIndexRow } from './refs.js';
import { billWindows } from './windows.js';

/** What to fetch. Times are instants; durations ms. */
export type CcFsSelection =
  | { kind: 'targets'; targets: CcFsTarget[] }
  | { kind: 'list'; input: Readable }
  | { kind: 'index'; input: Readable; name: string }
  | { kind: 'bill-files'; names: string[] }
  | {
      kind: 'bills';
      from: Date;
      to: Date;
      /** Where the callback receiver listens. */
      listenHost: string;
      listenPort: number;
      /** The callBackURL sent to CC-FS (what reaches the receiver). */
      callbackUrl: string;
      timeoutMs: number;
    };

/** Everything the source needs. */
export interface CcFsSourceOptions {
  client: CcFsClient;
  /** The run's limiter of CC-FS requests (flow control penalises it). */
  limiter: RateLimiter;
  /** The tenant's time zone (dates of file names and call ids, queryBillData windows). */
  zone: string;
  /** ccId of flag and list targets without one. */
  ccId: string;
  selection: CcFsSelection;
  ak: string;
  sk: string;
  /** Limits of a call's zip and of a bill file zip. */
  zipLimits?: Partial<ZipLimits>;
  /** Retries of bill requests and their backoff base, ms. */
  retries: number;
  retryBaseMs: number;
}

/** The Source of one `recpull cc-fs` run (see the module comment). */
export class CcFsSource implements Source {
  readonly vendor = CCFS_VENDOR;
  readonly fields = CCFS_FIELDS;
  readonly defaultTemplate = CCFS_DEFAULT_TEMPLATE;
  private readonly targets = new WeakMap<RecordingRef, CcFsTarget>();
  private emit: OpenContext['emit'] | undefined;

  constructor(private readonly o: CcFsSourceOptions) {}

  async open(ctx: OpenContext): Promise<void> {
    this.emit = ctx.emit;
    this.o.limiter.onWait = (w) => ctx.emit({ type: 'rate-limit-wait', at: now(), ...w });
  }

  async *refs(signal: AbortSignal): AsyncIterable<RefItem | RefItem[]> {
    const sel = this.o.selection;
    switch (sel.kind) {
      case 'targets':
        for (const t of sel.targets) yield this.remember(ccfsRef(t, this.o.zone), t);
        return;
      case 'list':
        yield* this.fromList(sel.input);
        return;
      case 'index':
        yield* this.fromIndex(sel.input, sel.name);
        return;
      case 'bill-files':
        for (const [i, name] of sel.names.entries()) yield* this.fromBillFile(name, i + 1, signal);
        return;
      case 'bills':
        yield* this.fromRange(sel, signal);
        return;
    }
  }

  async fetch(ref: RecordingRef, ctx: FetchContext): Promise<FetchedBody> {
    const t = this.targets.get(ref) ?? targetOf(ref);
    const { kind, fetched } = await this.o.client.downloadRecord(t, ctx.signal);
    if (kind === 'audio') return fetched;
    return {
      ...fetched,
      bundle: 'zip',
      ...(this.o.zipLimits ? { bundleLimits: this.o.zipLimits } : {}),
    };
  }

  private remember(ref: RecordingRef, t: CcFsTarget): RecordingRef {
    this.targets.set(ref, t);
    return ref;
  }

  /** `-i`: rows with `fileName` or `callId` (and an optional `ccId`); other columns become template fields. */
  private fromList(input: Readable): AsyncIterable<RefItem[]> {
    return inputRefs(input, (row) => {
      try {
        const fileName = field(row.fields, 'fileName', 'file_name', 'original_file_name');
        const callId = field(row.fields, 'callId', 'call_id');
        const ccId = checkCcId(field(row.fields, 'ccId', 'cc_id') ?? this.o.ccId);
        let t: CcFsTarget;
        if (fileName !== undefined) t = { kind: 'file', fileName: normalizeFileName(fileName), ccId };
        else if (callId !== undefined) t = { kind: 'call', callId: checkCallId(callId), ccId };
        else throw new RecpullError('E_INPUT', 'expected a fileName or callId column');
        return { ...this.remember(ccfsRef(t, this.o.zone, scalarFields(row.fields)), t), line: row.line };
      } catch (err) {
        const e = err as RecpullError;
        return { inputError: new RecpullError('E_INPUT', `line ${row.line}: ${e.message}`), line: row.line };
      }
    });
  }

  /** A recording index CSV (4.2.1): one ref per line, the line as its record. */
  private async *fromIndex(input: Readable, name: string): AsyncIterable<RecordingRef | InputRowError> {
    for await (const item of readRecordIndex(input, name)) {
      if ('error' in item) {
        yield { inputError: item.error, line: item.line };
        continue;
      }
      try {
        yield { ...refOfIndexRow(item.row, this.o.zone, this.o.ccId), line: item.line };
      } catch (err) {
        const e = err as RecpullError;
        yield {
          inputError: new RecpullError('E_INPUT', `${name} line ${item.line}: ${e.message}`),
          line: item.line,
        };
      }
    }
  }

  /** CC-FS bill requests with the run's retry policy (flow control is retryable). */
  private retried<T>(op: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return withRetries(op, { retries: this.o.retries, baseMs: this.o.retryBaseMs, signal });
  }

  /** A bill file: downloaded, unpacked into a temporary folder, its recording index read. */
  private async *fromBillFile(
    name: string,
    line: number,
    signal: AbortSignal,
  ): AsyncIterable<RecordingRef | InputRowError> {
    const dir = await mkdtemp(join(tmpdir(), 'recpull-ccfs-bill-'));
    try {
      const indexes: string[] = [];
      try {
        await this.retried(async () => {
          const fetched = await this.o.client.downloadBillFile(name, signal);
          const zip = join(dir, 'bill.zip');
          const fh = await open(zip, 'w');
          try {
            for await (const chunk of fetched.body) await fh.write(chunk);
          } finally {
            await fh.close();
          }
          const unpacked = join(dir, 'bill');
          const files = await extractZip(zip, unpacked, {
            ...(this.o.zipLimits ? { limits: this.o.zipLimits } : {}),
            signal,
          });
          for (const f of files) if (/_record\.csv$/i.test(f.path)) indexes.push(join(unpacked, f.path));
        }, signal);
      } catch (err) {
        const e = err as RecpullError;
        if (e.code === 'E_AUTH' || e.code === 'E_PERMISSION' || e.code === 'E_ABORTED') throw e;
        yield { inputError: new RecpullError(e.code ?? 'E_INPUT', `bill file ${name}: ${e.message}`), line };
        return;
      }
      if (indexes.length === 0) {
        yield { inputError: new RecpullError('E_INPUT', `bill file ${name}: no *_record.csv in it`), line };
        return;
      }
      for (const path of indexes) yield* this.fromIndex(createReadStream(path), `${name}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** `cc-fs bills`: queryBillData per window, each bill file named by the callback. */
  private async *fromRange(
    sel: Extract<CcFsSelection, { kind: 'bills' }>,
    signal: AbortSignal,
  ): AsyncIterable<RecordingRef | InputRowError> {
    const url = new URL(sel.callbackUrl);
    const receiver = await startCallbackReceiver({
      host: sel.listenHost,
      port: sel.listenPort,
      path: url.pathname,
      ak: this.o.ak,
      sk: this.o.sk,
      publicHosts: [url.host, url.hostname],
    });
    try {
      for (const [i, w] of billWindows(sel.from, sel.to, this.o.zone).entries()) {
        const responseId = await this.retried(
          () => this.o.client.queryBillData({ ...w, callBackURL: sel.callbackUrl }, signal),
          signal,
        );
        const notice = await receiver.waitFor(responseId, sel.timeoutMs, signal);
        this.emit?.({
          type: 'notice',
          at: now(),
          level: 'info',
          message: `bill file ${notice.billFileName} for ${w.beginTime} – ${w.endTime}`,
        });
        yield* this.fromBillFile(notice.billFileName, i + 1, signal);
      }
    } finally {
      await receiver.close();
    }
  }
}

/** The target of a ref that did not come from this source instance (its key and meta). */
function targetOf(ref: RecordingRef): CcFsTarget {
  const ccId = String(ref.meta.ccId ?? '1');
  if (ref.key.startsWith(`${CCFS_VENDOR}:${ccId}:file:`) && typeof ref.meta.fileName === 'string')
    return { kind: 'file', fileName: ref.meta.fileName, ccId };
  if (typeof ref.meta.callId === 'string') return { kind: 'call', callId: ref.meta.callId, ccId };
  throw new RecpullError('E_INTERNAL', `not a CC-FS recording: ${ref.key}`);
}
