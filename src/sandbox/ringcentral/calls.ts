/**
 * The calls behind the RingCentral emulator's call log: deterministic (seeded) calls spread over a date range,
 * plus calls placed relative to the server's start ("ended 200 ms ago") so a test can watch a recording
 * become ready. Facts used: recording ids are numeric strings, telephony session ids look like `s-<hex>`,
 * the content is `audio/mpeg` or `audio/wav` (older `audio/x-wav`) (reference/ringcentral/README.md,
 * docs/docs_voice_call-log_api.md, seeds/ringcentral-recording-from-call-session-event.txt).
 */
import { createHash } from 'node:crypto';
import { hash32, prng, sizeFor } from '../catalogue.js';

/** An extension (user) of the sandbox account. */
export interface RcExtension {
  id: string;
  extensionNumber: string;
  name: string;
  phoneNumber: string;
}

/** The recording of a call. */
export interface RcRecording {
  id: string;
  type: 'Automatic' | 'OnDemand';
  format: 'wav' | 'mp3';
  contentType: 'audio/mpeg' | 'audio/wav' | 'audio/x-wav';
  bytes: number;
  /** Recorded duration, seconds. */
  durationS: number;
  /** Epoch ms from which the content can be downloaded (before: 404 CMN-102). */
  readyAt: number;
}

/** One call (one call log record). */
export interface RcCall {
  callLogId: string;
  sessionId: string;
  telephonySessionId: string;
  partyId: string;
  startMs: number;
  endMs: number;
  /** Epoch ms from which the call appears in the call log. */
  visibleAt: number;
  direction: 'Inbound' | 'Outbound';
  externalNumber: string;
  extension: RcExtension;
  recording?: RcRecording;
}

/** How a test describes a call; every field is optional. */
export interface RcCallSpec {
  recordingId?: string;
  callLogId?: string;
  sessionId?: string;
  telephonySessionId?: string;
  /** When the call started (default: from `endedAgoMs` and `durationS`). */
  startTime?: Date | string;
  /** The call ended this long before the sandbox started (negative: it is still going on). */
  endedAgoMs?: number;
  /** Call duration, seconds (default: recording duration plus a few seconds). */
  durationS?: number;
  direction?: 'Inbound' | 'Outbound';
  /** Extension id (default: the first). */
  extensionId?: string;
  externalNumber?: string;
  format?: 'wav' | 'mp3';
  contentType?: 'audio/mpeg' | 'audio/wav' | 'audio/x-wav';
  bytes?: number;
  recordingType?: 'Automatic' | 'OnDemand';
  /** The recording becomes downloadable this long after the call ends (default: the sandbox's `notReadyMs`). */
  readyAfterMs?: number;
  /** False: a call without a recording. */
  recorded?: boolean;
}

/** What building calls needs from the sandbox's options. */
export interface CallFactoryOptions {
  seed: number;
  extensions: RcExtension[];
  mp3Ratio: number;
  xWavRatio: number;
  minBytes: number;
  maxBytes: number;
  notReadyMs: number;
  callLogDelayMs: number;
  /** The sandbox's start time, epoch ms. */
  t0: number;
}

/** Bytes per second of the sandbox's audio: µ-law WAV 8 kHz mono, MP3 128 kbit/s. */
const BYTES_PER_S = { wav: 8000, mp3: 16000 } as const;

/** Builds calls with unique, RingCentral-looking identifiers. */
export class CallFactory {
  private seq = 0;
  constructor(private readonly o: CallFactoryOptions) {}

  /** `count` recorded calls with start times spread over [from, to], oldest first. */
  spread(count: number, from: number, to: number, recorded = true): RcCall[] {
    const rand = prng(hash32(`${this.o.seed}:spread:${recorded}:${from}:${to}`));
    const starts: number[] = [];
    for (let i = 0; i < count; i++)
      starts.push(Math.floor((from + rand() * Math.max(0, to - from)) / 1000) * 1000);
    starts.sort((a, b) => a - b);
    return starts.map((s) => this.make({ startTime: new Date(s), recorded }));
  }

  /** One call from a spec; `endedAgoMs` counts back from `t0` (default: the sandbox's start). */
  make(spec: RcCallSpec, t0 = this.o.t0): RcCall {
    const n = this.seq++;
    const o = this.o;
    const rand = prng(hash32(`${o.seed}:call:${n}`));
    const recordingId = spec.recordingId ?? String(1_662_272_004 + n * 1000);
    const extension = o.extensions.find((e) => e.id === spec.extensionId) ?? pick(o.extensions, rand);
    if (spec.extensionId && extension.id !== spec.extensionId)
      throw new Error(`unknown extension ${spec.extensionId}`);

    let recording: RcRecording | undefined;
    if (spec.recorded !== false) {
      const format: 'wav' | 'mp3' =
        spec.format ??
        (spec.contentType
          ? spec.contentType === 'audio/mpeg'
            ? 'mp3'
            : 'wav'
          : rand() < o.mp3Ratio
            ? 'mp3'
            : 'wav');
      const contentType =
        spec.contentType ??
        (format === 'mp3' ? 'audio/mpeg' : rand() < o.xWavRatio ? 'audio/x-wav' : 'audio/wav');
      const bytes =
        spec.bytes ?? sizeFor(recordingId, { seed: o.seed, minBytes: o.minBytes, maxBytes: o.maxBytes });
      recording = {
        id: recordingId,
        type: spec.recordingType ?? (rand() < 0.7 ? 'Automatic' : 'OnDemand'),
        format,
        contentType,
        bytes,
        durationS: Math.max(1, Math.round(bytes / BYTES_PER_S[format])),
        readyAt: 0,
      };
    }
    const durationS = spec.durationS ?? (recording?.durationS ?? 0) + 2 + Math.floor(rand() * 20);
    let startMs: number;
    let endMs: number;
    if (spec.startTime !== undefined) {
      startMs = new Date(spec.startTime).getTime();
      if (Number.isNaN(startMs)) throw new Error(`bad startTime ${String(spec.startTime)}`);
      endMs = startMs + durationS * 1000;
    } else {
      endMs = t0 - (spec.endedAgoMs ?? 0);
      startMs = endMs - durationS * 1000;
    }
    if (recording) recording.readyAt = endMs + (spec.readyAfterMs ?? o.notReadyMs);
    const tag = `${o.seed}:${n}:${recordingId}`;
    return {
      callLogId: spec.callLogId ?? base62(`cl:${tag}`, 15),
      sessionId: spec.sessionId ?? String(425_008_160_016 + n * 1000 + (hash32(tag) % 997)),
      telephonySessionId: spec.telephonySessionId ?? `s-${hex(`ts:${tag}`, 32)}`,
      partyId: `p-${hex(`party:${tag}`, 32)}-2`,
      startMs,
      endMs,
      visibleAt: endMs + o.callLogDelayMs,
      direction: spec.direction ?? (rand() < 0.5 ? 'Inbound' : 'Outbound'),
      externalNumber: spec.externalNumber ?? `+1415555${String(1000 + Math.floor(rand() * 9000))}`,
      extension,
      ...(recording ? { recording } : {}),
    };
  }
}

/** The sandbox's default extensions: `count` users numbered 101, 102, ... */
export function makeExtensions(ids: string[]): RcExtension[] {
  return ids.map((id, i) => ({
    id,
    extensionNumber: String(101 + i),
    name: `Sandbox User ${i + 1}`,
    phoneNumber: `+1650555${String(6100 + i)}`,
  }));
}

function pick<T>(list: T[], rand: () => number): T {
  const v = list[Math.floor(rand() * list.length)] ?? list[0];
  if (v === undefined) throw new Error('empty list');
  return v;
}

function hex(text: string, len: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, len);
}

const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function base62(text: string, len: number): string {
  const d = createHash('sha256').update(text).digest();
  let s = '';
  for (let i = 0; i < len; i++) s += B62[(d[i] ?? 0) % 62];
  return s;
}
