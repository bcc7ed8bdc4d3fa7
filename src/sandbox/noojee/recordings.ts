/**
 * The Noojee emulator's recordings (legs) and the bodies that carry them: a WAV (src/sandbox/catalogue.ts
 * `wavChunks`, generated as it is read) base64-encoded in 3-byte-aligned pieces as it streams, optionally
 * wrapped at 76 columns, inside an Axis 1 envelope, an Axis 2 response, or bare (./soap.ts). A recording is
 * never held in memory, so a 500 MB one costs no more than a small one.
 *
 * Facts: seeds/noojee-recording-api-2.7.14.txt (retrieve returns "a BASE64 encoded wav file"; deleted,
 * private and in-progress recordings cannot be retrieved), noojee/noojee-notes.md (leg fields, Asterisk
 * uniqueid `epoch.counter`), noojee/axis-soap-over-get.md (the two response shapes).
 */
import { hash32, prng, sizeFor, wavChunks } from '../catalogue.js';
import { bodyFrame } from './soap.js';

/** How a recording's retrieve answer is shaped. */
export type NoojeeBodyStyle = 'axis1' | 'axis2' | 'bare';

/** Which `Start` format the listing uses for a leg (both appear in the Noojee pages; noojee-notes.md). */
export type NoojeeStartFormat = 'iso' | 'java';

/** A recording's life: being recorded (start without stop), retrievable, or refused for good. */
export type NoojeeState = 'recording' | 'done' | 'deleted' | 'private';

/** A deliberately broken body: one invalid character, or an `=` in the middle of the base64. */
export type NoojeeHostile = 'invalid-char' | 'bad-padding';

/** One recorded leg. Times are epoch ms; sizes bytes; `durationS` seconds. */
export interface NoojeeRecording {
  /** Asterisk uniqueid, e.g. `1631595787.5` (opaque to clients). */
  uniqueId: string;
  /** The tag given at `start` ("External Reference"); may be empty. */
  tag: string;
  /** The Noojee user owning the recording (`Username` of the listing; may be listed as empty). */
  username: string;
  /** Whether the listing shows `Username` as an empty string. */
  listedWithoutUsername: boolean;
  style: NoojeeBodyStyle;
  /** Base64 wrapped into lines of 76 characters (CRLF), as MIME encoders write it. */
  wrap: boolean;
  /** Size of the WAV, bytes. */
  bytes: number;
  state: NoojeeState;
  start: number;
  durationS: number;
  /** The extension recorded (start/stop by extension). */
  exten: string;
  source: string;
  destination: string;
  direction: 'Inbound' | 'Outbound';
  did: string;
  callRecordId: string;
  leg: string;
  startFormat: NoojeeStartFormat;
  hostile?: NoojeeHostile;
}

/** A recording a test asks for; every field has a default. */
export type NoojeeRecordingSpec = Partial<NoojeeRecording>;

/** When the leg ended, epoch ms. */
export function endOf(rec: NoojeeRecording): number {
  return rec.start + rec.durationS * 1000;
}

/** Options of {@link makeRecordings}. Sizes bytes, times epoch ms. */
export interface MakeRecordingsOptions {
  seed: number;
  count: number;
  /** Calls end within [from, to]. */
  from: number;
  to: number;
  users: string[];
  styles: NoojeeBodyStyle[];
  minBytes: number;
  maxBytes: number;
  /** Share of recordings whose base64 is wrapped at 76 columns. */
  wrapRatio: number;
}

/** Deterministic recordings spread over [from, to], styles taken in turn so that every style appears. */
export function makeRecordings(o: MakeRecordingsOptions): NoojeeRecording[] {
  const rand = prng(o.seed);
  const out: NoojeeRecording[] = [];
  for (let i = 0; i < o.count; i++) {
    const end = o.from + Math.floor(((o.to - o.from) * (i + 0.5)) / Math.max(1, o.count));
    const durationS = 5 + Math.floor(rand() * 300);
    const start = end - durationS * 1000;
    const uniqueId = `${Math.floor(start / 1000)}.${100 + i}`;
    out.push(
      recording(
        {
          uniqueId,
          tag: `ORD-${1000 + i}`,
          username: o.users[i % o.users.length] as string,
          listedWithoutUsername: i % 5 === 4,
          style: o.styles[i % o.styles.length] as NoojeeBodyStyle,
          wrap: rand() < o.wrapRatio,
          bytes: sizeFor(uniqueId, { seed: o.seed, minBytes: o.minBytes, maxBytes: o.maxBytes }),
          start,
          durationS,
          leg: String(1 + (i % 3)),
          startFormat: i % 2 === 0 ? 'iso' : 'java',
        },
        o.seed,
        o.users[0] as string,
      ),
    );
  }
  return out;
}

/** A recording from a spec, its missing fields derived from its uniqueId and the seed. */
export function recording(spec: NoojeeRecordingSpec, seed: number, defaultUser: string): NoojeeRecording {
  const start = spec.start ?? Date.now() - 3_600_000;
  const uniqueId =
    spec.uniqueId ?? `${Math.floor(start / 1000)}.${hash32(`${seed}:${JSON.stringify(spec)}`) % 1000}`;
  const h = hash32(`${seed}:leg:${uniqueId}`);
  const exten = spec.exten ?? String(400 + (h % 20));
  const rec: NoojeeRecording = {
    uniqueId,
    tag: spec.tag ?? '',
    username: spec.username ?? defaultUser,
    listedWithoutUsername: spec.listedWithoutUsername ?? false,
    style: spec.style ?? (['axis1', 'axis2', 'bare'] as const)[h % 3]!,
    wrap: spec.wrap ?? false,
    bytes: spec.bytes ?? sizeFor(uniqueId, { seed }),
    state: spec.state ?? 'done',
    start,
    durationS: spec.durationS ?? 30,
    exten,
    source: spec.source ?? ((h >>> 8) % 2 === 0 ? exten : `04${String(h % 100_000_000).padStart(8, '0')}`),
    destination:
      spec.destination ?? ((h >>> 8) % 2 === 0 ? `02${String(h % 100_000_000).padStart(8, '0')}` : exten),
    direction: spec.direction ?? ((h >>> 8) % 2 === 0 ? 'Outbound' : 'Inbound'),
    did: spec.did ?? ((h >>> 8) % 2 === 0 ? 'internal' : '7601'),
    callRecordId: spec.callRecordId ?? String(6000 + (h % 4000)),
    leg: spec.leg ?? '1',
    startFormat: spec.startFormat ?? 'iso',
  };
  if (spec.hostile) rec.hostile = spec.hostile;
  return rec;
}

/** Characters per line of wrapped base64 (MIME, RFC 2045 §6.8). */
export const WRAP_COLUMNS = 76;
const EOL = '\r\n';

/** Length of the base64 text of `bytes` bytes, wrapped or not (no line break after the last line). */
function base64Length(bytes: number, wrap: boolean): number {
  const chars = 4 * Math.ceil(bytes / 3);
  return wrap && chars > 0 ? chars + (Math.ceil(chars / WRAP_COLUMNS) - 1) * EOL.length : chars;
}

/** The exact byte length of {@link encodedBody}. */
export function encodedLength(rec: NoojeeRecording): number {
  const { head, tail } = bodyFrame(rec);
  return Buffer.byteLength(head) + base64Length(rec.bytes, rec.wrap) + Buffer.byteLength(tail);
}

/**
 * The retrieve answer of a recording as a sequence of chunks: frame head, the WAV's base64 (each piece of
 * `wavChunks` encoded as it comes, carrying 0–2 bytes to keep pieces 3-byte aligned, lines wrapped across
 * pieces), frame tail. `hostile` recordings get one bad character in their second piece of text.
 */
export function* encodedBody(rec: NoojeeRecording, seed: number): Generator<Buffer> {
  const { head, tail } = bodyFrame(rec);
  if (head) yield Buffer.from(head, 'utf8');
  let carry: Buffer = Buffer.alloc(0);
  let column = 0;
  let piece = 0;
  const wrap = (text: string): string => {
    if (!rec.wrap || text.length === 0) return text;
    const parts: string[] = [];
    let i = 0;
    if (column === WRAP_COLUMNS) {
      parts.push(EOL);
      column = 0;
    }
    while (i < text.length) {
      const n = Math.min(WRAP_COLUMNS - column, text.length - i);
      parts.push(text.slice(i, i + n));
      i += n;
      column += n;
      if (column === WRAP_COLUMNS && i < text.length) {
        parts.push(EOL);
        column = 0;
      }
    }
    return parts.join('');
  };
  const spoil = (text: string): string => {
    if (!rec.hostile || piece++ !== 1 || text.length < 8) return text;
    const bad = rec.hostile === 'invalid-char' ? '*' : '=';
    return `${bad}${text.slice(1)}`;
  };
  for (const chunk of wavChunks(rec.uniqueId, rec.bytes, seed)) {
    const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const usable = data.length - (data.length % 3);
    carry = Buffer.from(data.subarray(usable));
    if (usable > 0) yield Buffer.from(wrap(spoil(data.subarray(0, usable).toString('base64'))), 'latin1');
  }
  if (carry.length > 0) yield Buffer.from(wrap(carry.toString('base64')), 'latin1');
  if (tail) yield Buffer.from(tail, 'utf8');
}
