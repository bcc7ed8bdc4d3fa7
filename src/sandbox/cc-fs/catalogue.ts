/**
 * The CC-FS emulator's recordings and calls, deterministic from a seed: single-recording calls and calls with
 * several recordings (served as a zip by call id), with the recording index and CDR lines CC-FS would export
 * for them (reference: huawei/ccfs-interface-reference-extract.txt 4.2.1; original_file_name like
 * `Y:\1\0\20240601\1001\1717200000123.V3`; call ids like `1637742300-27`: epoch seconds, a counter).
 */
import { zonedParts } from '../../core/dates.js';
import { hash32, sizeFor, wavChunks } from '../catalogue.js';

/** One recording. Times are `YYYY-MM-DD hh:mm:ss` wall times in the tenant zone. */
export interface CcFsRecording {
  /** downloadRecord fileName (`/` separators). */
  fileName: string;
  /** As the index lists it (`\` separators). */
  originalFileName: string;
  callId: string;
  ccId: string;
  agentId: string;
  callerNo: string;
  calleeNo: string;
  callBegin: string;
  callEnd: string;
  /** Epoch ms of the call's start. */
  beginMs: number;
  /** Entry name inside a call's zip. */
  entryName: string;
  bytes: number;
}

/** One call: its recordings (more than one → a zip by call id). */
export interface CcFsCall {
  callId: string;
  ccId: string;
  recordings: CcFsRecording[];
}

/** Options of {@link makeCalls}. */
export interface CallCatalogueOptions {
  singleCalls: number;
  multiCalls: number;
  recordingsPerMultiCall: number;
  ccId: string;
  /** Calls start in [to - 2 days, to). */
  to: number;
  zone: string;
  seed: number;
  minBytes: number;
  maxBytes: number;
}

/** `YYYY-MM-DD hh:mm:ss` of `ms` in `zone`. */
export function wallTime(ms: number, zone: string): string {
  const p = zonedParts(new Date(ms), zone);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** Builds the calls. */
export function makeCalls(o: CallCatalogueOptions): CcFsCall[] {
  const calls: CcFsCall[] = [];
  const total = o.singleCalls + o.multiCalls;
  const span = 2 * 24 * 3600 * 1000;
  for (let i = 0; i < total; i++) {
    const beginMs = Math.floor(o.to - span + ((i + 0.5) * span) / total);
    const callId = `${Math.floor(beginMs / 1000)}-${i + 1}`;
    const agentId = String(1001 + (hash32(`${o.seed}:agent:${i}`) % 5));
    const n = i < o.singleCalls ? 1 : o.recordingsPerMultiCall;
    const day = wallTime(beginMs, o.zone).slice(0, 10).replace(/-/g, '');
    const recordings: CcFsRecording[] = [];
    for (let r = 0; r < n; r++) {
      const start = beginMs + r * 20_000;
      const base = `${start}`;
      const fileName = `Y:/1/0/${day}/${agentId}/${base}.V3`;
      recordings.push({
        fileName,
        originalFileName: fileName.replace(/\//g, '\\'),
        callId,
        ccId: o.ccId,
        agentId,
        callerNo: `13800${String(100000 + i).slice(1)}`,
        calleeNo: `6000${r}`,
        callBegin: wallTime(start, o.zone),
        callEnd: wallTime(start + 15_000, o.zone),
        beginMs: start,
        entryName: `${base}.wav`,
        bytes: sizeFor(fileName, { seed: o.seed, minBytes: o.minBytes, maxBytes: o.maxBytes }),
      });
    }
    calls.push({ callId, ccId: o.ccId, recordings });
  }
  return calls;
}

/** The WAV of a recording, as chunks generated while read. */
export function recordingChunks(r: CcFsRecording, seed: number): Iterable<Buffer> {
  return wavChunks(r.fileName, r.bytes, seed);
}

const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** The recording index lines (4.2.1, 18 columns, no header) of `recs`. */
export function recordIndexCsv(recs: CcFsRecording[], developer: string, accountId: string): string {
  return recs
    .map((r) =>
      [
        developer,
        accountId,
        r.ccId,
        r.agentId,
        r.callId,
        r.callerNo,
        r.calleeNo,
        r.callBegin,
        r.callEnd,
        `/10/${r.ccId}/record/${developer}/${r.callBegin.slice(0, 10).replace(/-/g, '')}/${r.agentId}/${r.entryName}`,
        '0',
        '',
        r.originalFileName,
        '100',
        '0',
        '5',
        '1',
        '1',
      ]
        .map(csvCell)
        .join(','),
    )
    .map((l) => `${l}\r\n`)
    .join('');
}

/** The CDR lines (4.2.1 "Definitions of CDR Files", the first 16 columns) of `calls`. */
export function cdrCsv(calls: CcFsCall[], developer: string, accountId: string): string {
  return calls
    .map((c) => {
      const first = c.recordings[0] as CcFsRecording;
      const last = c.recordings[c.recordings.length - 1] as CcFsRecording;
      return [
        developer,
        accountId,
        c.ccId,
        first.agentId,
        c.callId,
        first.callerNo,
        first.calleeNo,
        first.callBegin,
        first.callBegin,
        first.callBegin,
        first.callBegin,
        first.callBegin,
        last.callEnd,
        '2',
        first.agentId,
        '0',
      ]
        .map(csvCell)
        .join(',');
    })
    .map((l) => `${l}\r\n`)
    .join('');
}
