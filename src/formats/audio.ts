/**
 * Streaming audio sniffing and validation (WAV/RIFF/RF64 and MP3), on the hot path of every download.
 *
 * The validator looks at the first bytes to tell audio from an error page (HTML, XML, JSON, text), then
 * walks the WAV chunk list up to the `data` chunk (keeping at most a few dozen bytes of header) and from then
 * on only counts bytes. At the end it compares what arrived with what the header declared, so a cut-off
 * body is never presented as a whole recording.
 *
 * Sources: /work/shared/reference/audio/wav-validation.md (RIFF layout; FFmpeg wavdec.c and SoX wav.c size
 * sentinels 0, 0xFFFFFFFF and 0x7FFFF000; RF64/ds64; "no fmt before data" is an error when not seekable),
 * EBU Tech 3306 (RF64), ID3v2.4 structure §3.1 (syncsafe tag size), ISO/IEC 11172-3 (MPEG audio frame header).
 */
import { RecpullError } from '../core/errors.js';

/** The audio formats recpull recognises. */
export type AudioFormat = 'wav' | 'mp3';

/** What the first bytes of a body look like. */
export type SniffKind = 'wav' | 'mp3' | 'html' | 'xml' | 'json' | 'text' | 'unknown';

/** Details of a WAV body's `fmt ` and `data` chunks (sizes in bytes; `undefined` = unknown, read to EOF). */
export interface WavInfo {
  /** `RIFF` or `RF64`. */
  container: 'RIFF' | 'RF64';
  /** wFormatTag (for WAVE_FORMAT_EXTENSIBLE, the sub-format's tag). */
  formatTag: number;
  /** Human name of `formatTag` ("PCM", "mu-law", ...). */
  codec: string;
  channels: number;
  /** Samples per second (Hz). */
  sampleRate: number;
  bitsPerSample: number;
  /** Declared size of the `data` chunk in bytes, or `undefined` for a "read to EOF" sentinel. */
  dataBytesDeclared: number | undefined;
}

/** The result of a successful {@link AudioValidator.end}. */
export interface AudioCheck {
  /** The sniffed format; it wins over the Content-Type. */
  format: AudioFormat;
  /** File extension without the dot. */
  ext: 'wav' | 'mp3';
  /** The canonical content type of `format`: `audio/wav` or `audio/mpeg`. */
  contentType: string;
  /** Set when the given Content-Type names another format than the bytes show. */
  mismatch?: string;
  /** Total bytes seen. */
  bytes: number;
  /** WAV details (WAV only). */
  wav?: WavInfo;
}

const WAV_TYPES = new Set(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'audio/x-pn-wav']);
const MP3_TYPES = new Set([
  'audio/mpeg',
  'audio/mp3',
  'audio/mpeg3',
  'audio/x-mp3',
  'audio/x-mpeg',
  'audio/x-mpeg-3',
  'audio/mpa',
]);
/** Content types that say nothing about the format (never reported as a mismatch). */
const GENERIC_TYPES = new Set(['application/octet-stream', 'binary/octet-stream', 'application/binary', '']);

/**
 * The audio format a Content-Type names: `audio/wav`, `audio/x-wav`, `audio/wave`, `audio/vnd.wave` → `'wav'`;
 * `audio/mpeg`, `audio/mp3`, `audio/x-mp3`, ... → `'mp3'`; anything else (or nothing) → `undefined`.
 * Parameters (`; codecs=1`) and case are ignored.
 */
export function extFromContentType(ct?: string): 'wav' | 'mp3' | undefined {
  const type = mediaType(ct);
  if (WAV_TYPES.has(type)) return 'wav';
  if (MP3_TYPES.has(type)) return 'mp3';
  return undefined;
}

function mediaType(ct: string | undefined): string {
  return (ct ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------
// Sniffing

const R = 0x52;
const RIFF = [R, 0x49, 0x46, 0x46]; // "RIFF"
const RF64 = [R, 0x46, 0x36, 0x34]; // "RF64"
const WAVE = [0x57, 0x41, 0x56, 0x45]; // "WAVE"
const ID3 = [0x49, 0x44, 0x33]; // "ID3"

/** True when `head[at..]` agrees with `sig` for as many bytes as `head` has. */
function prefixMatches(head: Uint8Array, at: number, sig: readonly number[]): boolean {
  const n = Math.min(sig.length, head.length - at);
  for (let i = 0; i < n; i++) if (head[at + i] !== sig[i]) return false;
  return true;
}

/**
 * An MPEG audio frame header's first 3 bytes: 11 sync bits, version not reserved, Layer II or III (Layer I
 * is refused so that a UTF-16LE BOM `FF FE` or `FF FF` filler is not taken for audio), bitrate index not
 * "bad" (15), sample-rate index not reserved (3). With fewer bytes, whether they could still be one.
 */
function frameSync(head: Uint8Array, at: number): 'yes' | 'maybe' | 'no' {
  const n = head.length - at;
  if (n <= 0) return 'maybe';
  if (head[at] !== 0xff) return 'no';
  if (n < 2) return 'maybe';
  const b1 = head[at + 1]!;
  if ((b1 & 0xe0) !== 0xe0) return 'no';
  const version = (b1 >> 3) & 3;
  const layer = (b1 >> 1) & 3;
  if (version === 1 || layer === 0 || layer === 3) return 'no';
  if (n < 3) return 'maybe';
  const b2 = head[at + 2]!;
  if (b2 >> 4 === 15 || ((b2 >> 2) & 3) === 3) return 'no';
  return 'yes';
}

const MPEG1_L1 = [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448];
const MPEG1_L2 = [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384];
const MPEG1_L3 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MPEG2_L1 = [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256];
const MPEG2_L23 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const SAMPLE_RATES = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] } as const;

/**
 * The length in bytes of the MPEG audio frame whose 4-byte header starts at `h[at]` (ISO/IEC 11172-3 and
 * 13818-3: bitrate and sample-rate tables, padding slot), or undefined when it is not a frame header or its
 * length cannot be known (free-format bitrate).
 */
export function mpegFrameLength(h: Uint8Array, at = 0): number | undefined {
  if (h[at] !== 0xff || ((h[at + 1] ?? 0) & 0xe0) !== 0xe0) return undefined;
  const b1 = h[at + 1]!;
  const b2 = h[at + 2] ?? 0;
  const version = (b1 >> 3) & 3; // 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5
  const layer = (b1 >> 1) & 3; // 3 Layer I, 2 Layer II, 1 Layer III
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (version === 1 || layer === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3)
    return undefined;
  const table =
    version === 3
      ? layer === 3
        ? MPEG1_L1
        : layer === 2
          ? MPEG1_L2
          : MPEG1_L3
      : layer === 3
        ? MPEG2_L1
        : MPEG2_L23;
  const bitrate = table[bitrateIndex]! * 1000;
  const rate = SAMPLE_RATES[version as 0 | 2 | 3][rateIndex]!;
  const padding = (b2 >> 1) & 1;
  if (layer === 3) return (Math.floor((12 * bitrate) / rate) + padding) * 4;
  const perSlot = layer === 1 && version !== 3 ? 72 : 144;
  return Math.floor((perSlot * bitrate) / rate) + padding;
}

/** Audio by signature: known, still possible (too few bytes), or ruled out. */
function matchAudio(head: Uint8Array): AudioFormat | 'maybe' | 'no' {
  if (head.length === 0) return 'maybe';
  if (prefixMatches(head, 0, RIFF) || prefixMatches(head, 0, RF64)) {
    if (head.length < 8 || prefixMatches(head, 8, WAVE)) return head.length >= 12 ? 'wav' : 'maybe';
    // RIFF but not WAVE (AVI, WebP, ...): fall through to the other checks (all of which fail on "R").
  }
  if (prefixMatches(head, 0, ID3)) return head.length >= 3 ? 'mp3' : 'maybe';
  const sync = frameSync(head, 0);
  if (sync === 'yes') return 'mp3';
  if (sync === 'maybe') return 'maybe';
  return 'no';
}

const HTML_TAGS =
  /^<(?:!doctype|html|head|body|title|meta|link|script|style|h[1-6]|p|div|pre|br|hr|center|table|span|a)(?=[\s>/])/;

/** UTF-16 without a BOM, recognised only as ASCII text: every other byte zero, the others not. */
function bomlessUtf16(head: Uint8Array): 'utf-16le' | 'utf-16be' | undefined {
  const n = head.length & ~1;
  if (n < 2) return undefined;
  let le = true;
  let be = true;
  for (let i = 0; i < n; i += 2) {
    const even = head[i]!;
    const odd = head[i + 1]!;
    if (!(even !== 0 && odd === 0)) le = false;
    if (!(even === 0 && odd !== 0)) be = false;
  }
  return le ? 'utf-16le' : be ? 'utf-16be' : undefined;
}

/**
 * What a non-audio head looks like. `final` = no more bytes will come; otherwise returns `undefined` while
 * the bytes seen so far cannot tell (e.g. only whitespace, or `<` and a few letters).
 */
function classifyNonAudio(head: Uint8Array, final: boolean): Exclude<SniffKind, 'wav' | 'mp3'> | undefined {
  let text: string;
  let start = 0;
  let encoding: 'utf-8' | 'utf-16le' | 'utf-16be' = 'utf-8';
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) start = 3;
  else if (head[0] === 0xff && head[1] === 0xfe) [start, encoding] = [2, 'utf-16le'];
  else if (head[0] === 0xfe && head[1] === 0xff) [start, encoding] = [2, 'utf-16be'];
  else encoding = bomlessUtf16(head) ?? 'utf-8';
  try {
    text = new TextDecoder(encoding).decode(head.subarray(start));
  } catch {
    return 'unknown';
  }
  if (!final) text = text.replace(/\uFFFD{1,3}$/, ''); // a code point cut at the end of the head
  const trimmed = text.replace(/^[\s\uFEFF]+/, '');
  if (trimmed.length === 0) return final ? (head.length > 0 ? 'text' : 'unknown') : undefined;
  // looking for binary control characters is the point
  const binary = /[\u0000-\u0008\u000B\u000E-\u001F\u007F\uFFFD]/.test(trimmed);
  const c = trimmed[0];
  if (c === '<' && !binary) {
    const lower = trimmed.toLowerCase();
    if (lower.startsWith('<?xml')) return 'xml';
    if (HTML_TAGS.test(final ? `${lower} ` : lower)) return 'html';
    if (!final && lower.length < 16 && !/[\s>]/.test(lower.slice(1))) return undefined;
    return 'xml';
  }
  if ((c === '{' || c === '[') && !binary) return 'json';
  if (binary) return 'unknown';
  if (!final && trimmed.length < 16) return undefined;
  return 'text';
}

/**
 * What the first bytes of a body are: `'wav'` (`RIFF`/`RF64` + `WAVE`, 12 bytes needed), `'mp3'` (`ID3` or an
 * MPEG Layer II/III frame sync), `'html'` (`<!DOCTYPE`, `<html`, ... after optional BOM/whitespace), `'xml'`
 * (`<?xml` or another `<`), `'json'` (`{` or `[`), `'text'` (printable UTF-8/UTF-16) or `'unknown'` bytes.
 * Pure; looks at all of `head` as given (pass the first few hundred bytes).
 */
export function sniffKind(head: Uint8Array): SniffKind {
  const audio = matchAudio(head);
  if (audio === 'wav' || audio === 'mp3') return audio;
  return classifyNonAudio(head, true) ?? 'unknown';
}

const KIND_TEXT: Record<Exclude<SniffKind, 'wav' | 'mp3'>, string> = {
  html: 'an HTML page',
  xml: 'an XML document',
  json: 'a JSON document',
  text: 'plain text',
  unknown: 'unknown binary data',
};

// ---------------------------------------------------------------------------------------------------------
// Validation

/** "Unknown size, read to EOF" values of a 32-bit RIFF/data size (FFmpeg wavdec.c, SoX wav.c MS_UNSPEC). */
const SIZE_SENTINELS = new Set([0, 0xffffffff, 0x7ffff000]);
/** Largest head kept while sniffing a non-audio body before giving up on telling its kind. */
const SNIFF_CAP = 512;
/** Bytes of a `fmt ` chunk kept (WAVE_FORMAT_EXTENSIBLE is 40). */
const FMT_KEEP = 40;
/** Bytes of a `ds64` chunk kept: riffSize, dataSize, sampleCount (3 × u64). */
const DS64_KEEP = 24;

const CODECS: Record<number, string> = {
  1: 'PCM',
  2: 'MS ADPCM',
  3: 'IEEE float',
  6: 'A-law',
  7: 'mu-law',
  17: 'IMA ADPCM',
  49: 'GSM 6.10',
  85: 'MPEG Layer III',
  65534: 'extensible',
};

type Phase =
  | 'sniff' // collecting the first bytes into `head`
  | 'riff' // collecting the 12-byte RIFF/RF64 header into `buf`
  | 'chunk' // collecting an 8-byte chunk header into `buf`
  | 'keep' // collecting the first `want` bytes of a chunk body (fmt / ds64) into `buf`
  | 'skip' // skipping `skip` bytes
  | 'data' // inside the WAV data chunk: counting only
  | 'id3' // collecting a 10-byte ID3v2 header
  | 'afterTag' // collecting up to 3 bytes after an ID3v2 tag (frame sync or another tag)
  | 'frames'; // MP3 audio: counting only

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}
function u64(b: Uint8Array, at: number): number {
  return u32(b, at) + u32(b, at + 4) * 0x1_0000_0000;
}
function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);
}
function printableId(id: string): string {
  return /^[\x20-\x7e]{4}$/.test(id) ? `"${id}"` : JSON.stringify(id);
}

/**
 * Incremental audio validator: feed every body chunk to {@link push}, then call {@link end}.
 *
 * - `push` throws `RecpullError('E_BAD_AUDIO')` (not retryable) as soon as the first bytes show the body
 *   is not audio (saying whether it looks like HTML, XML, JSON, text or unknown bytes, with the Content-Type),
 *   or the WAV/MP3 header is malformed (`fmt ` missing before `data`, bad `fmt `, RF64 without `ds64`,
 *   an ID3v2 tag not followed by an MPEG frame).
 * - `end` throws `RecpullError('E_TRUNCATED', …, { retryable: true })` when the body stopped inside the header,
 *   before the `data` chunk, with fewer `data` bytes than declared, or with fewer bytes than the RIFF size
 *   declares; an empty body is `E_TRUNCATED` too (nothing says it is an error page; a 0-byte answer is most
 *   often a cut or a recording not yet written, and retrying is bounded by the queue).
 * - After the header, `push` only counts bytes (O(1) per chunk, no copy); at most ~512 bytes are buffered.
 * - A failure is sticky: later `push`/`end` calls throw the same error.
 */
export class AudioValidator {
  private readonly contentType: string | undefined;
  private phase: Phase = 'sniff';
  private fmtKind: AudioFormat | undefined;
  private failure: RecpullError | undefined;
  /** Total bytes pushed. */
  private total = 0;

  // sniffing
  private head: Uint8Array | undefined = new Uint8Array(0);

  // header parsing: a small fixed buffer reused for the RIFF header, chunk headers, fmt and ds64
  private readonly buf = new Uint8Array(FMT_KEEP);
  private fill = 0;
  private want = 0;
  private skip = 0;
  private chunkId = '';
  private chunkSize = 0;

  // WAV state
  private container: 'RIFF' | 'RF64' = 'RIFF';
  private riffSize: number | undefined;
  private ds64: { riff: number; data: number } | undefined;
  private fmt: Omit<WavInfo, 'container' | 'dataBytesDeclared'> | undefined;
  private dataDeclared: number | undefined;
  private dataOddPad = false;
  private dataReceived = 0;

  // MP3 state
  private tagBytes = 0;
  /** Bytes left of the current MPEG frame (or ID3v1 tag) being walked. */
  private frameLeft = 0;
  /** Bytes of the next frame header collected so far (0..3). */
  private readonly frameHead = new Uint8Array(4);
  private frameHeadFill = 0;
  /** The walk lost the frame chain (free-format bitrate, junk): from there on only bytes are counted. */
  private lostSync = false;
  private framesSeen = 0;

  /** `contentType`: the response's Content-Type, used in messages and for the `mismatch` note. */
  constructor(opts: { contentType?: string } = {}) {
    this.contentType = opts.contentType?.trim() || undefined;
  }

  /** The sniffed format, once enough bytes arrived (12 for WAV, 3 for MP3); `undefined` before. */
  get format(): AudioFormat | undefined {
    return this.fmtKind;
  }

  /** Total bytes pushed so far. */
  get bytes(): number {
    return this.total;
  }

  /** WAV details once the `data` chunk header has been read. */
  get wav(): WavInfo | undefined {
    if (this.fmtKind !== 'wav' || !this.fmt || this.phase !== 'data') return undefined;
    return { container: this.container, ...this.fmt, dataBytesDeclared: this.dataDeclared };
  }

  /** Feeds the next body chunk. Throws `E_BAD_AUDIO` when the bytes show the body is not (valid) audio. */
  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    const len = chunk.length;
    if (len === 0) return;
    this.total += len;
    // Hot path: inside the audio payload only the count matters (and, for MP3, where frames end).
    if (this.phase === 'data') {
      this.dataReceived += len;
      return;
    }
    if (this.phase === 'frames') {
      this.walkFrames(chunk, 0);
      return;
    }
    try {
      if (this.phase === 'sniff') this.sniff(chunk);
      else this.parse(chunk, 0);
    } catch (err) {
      if (err instanceof RecpullError) this.failure = err;
      throw err;
    }
  }

  /**
   * Declares the body complete and returns the verdict: `{format, ext, contentType, mismatch?, bytes, wav?}`.
   * Throws `E_TRUNCATED` (retryable) for a short body, `E_BAD_AUDIO` for a non-audio one.
   */
  end(): AudioCheck {
    if (this.failure) throw this.failure;
    try {
      return this.finish();
    } catch (err) {
      if (err instanceof RecpullError) this.failure = err;
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------------------------

  private ctNote(): string {
    return this.contentType ? ` (Content-Type: ${this.contentType})` : '';
  }

  private bad(message: string): RecpullError {
    return new RecpullError('E_BAD_AUDIO', message + this.ctNote());
  }

  private truncated(message: string): RecpullError {
    return new RecpullError('E_TRUNCATED', message + this.ctNote(), { retryable: true });
  }

  private notAudio(head: Uint8Array, final: boolean): RecpullError | undefined {
    const kind = classifyNonAudio(head, final || head.length >= SNIFF_CAP);
    if (kind === undefined) return undefined;
    return this.bad(`the body is not audio: it looks like ${KIND_TEXT[kind]}`);
  }

  private sniff(chunk: Uint8Array): void {
    const prev = this.head!;
    const head = new Uint8Array(Math.min(prev.length + chunk.length, SNIFF_CAP));
    head.set(prev);
    head.set(chunk.subarray(0, head.length - prev.length), prev.length);
    const audio = matchAudio(head);
    if (audio === 'maybe') {
      this.head = head;
      return;
    }
    if (audio === 'no') {
      const err = this.notAudio(head, false);
      if (err) throw err;
      this.head = head;
      return;
    }
    // Known audio: replay the previous head bytes and then the whole chunk through the parser.
    this.head = undefined;
    this.fmtKind = audio;
    if (audio === 'wav') this.expect('riff', 12);
    else this.expect('id3', 10);
    if (audio === 'mp3' && !prefixMatches(head, 0, ID3)) {
      this.phase = 'frames';
      this.walkFrames(prev, 0);
      this.walkFrames(chunk, 0);
      return;
    }
    this.parse(prev, 0);
    this.parse(chunk, 0);
  }

  /** Starts collecting `n` bytes into `buf` for `phase`. */
  private expect(phase: Phase, n: number): void {
    this.phase = phase;
    this.want = n;
    this.fill = 0;
  }

  private startSkip(n: number): void {
    if (n <= 0) this.expect('chunk', 8);
    else {
      this.phase = 'skip';
      this.skip = n;
    }
  }

  /** Runs the header state machine over `chunk[off..]`. */
  private parse(chunk: Uint8Array, off: number): void {
    const len = chunk.length;
    while (off < len) {
      switch (this.phase) {
        case 'data':
          this.dataReceived += len - off;
          return;
        case 'frames':
          this.walkFrames(chunk, off);
          return;
        case 'skip': {
          const n = Math.min(this.skip, len - off);
          this.skip -= n;
          off += n;
          if (this.skip === 0) {
            if (this.fmtKind === 'mp3') this.expect('afterTag', 3);
            else this.expect('chunk', 8);
          }
          break;
        }
        default: {
          const n = Math.min(this.want - this.fill, len - off);
          this.buf.set(chunk.subarray(off, off + n), this.fill);
          this.fill += n;
          off += n;
          if (this.phase === 'afterTag') this.checkAfterTag();
          else if (this.fill === this.want) this.collected();
        }
      }
    }
  }

  /** `buf` holds the `want` bytes the current phase asked for. */
  private collected(): void {
    const b = this.buf;
    switch (this.phase) {
      case 'riff': {
        this.container = fourcc(b, 0) === 'RF64' ? 'RF64' : 'RIFF';
        const size = u32(b, 4);
        this.riffSize = SIZE_SENTINELS.has(size) ? undefined : size;
        this.expect('chunk', 8);
        return;
      }
      case 'chunk': {
        this.chunkId = fourcc(b, 0);
        this.chunkSize = u32(b, 4);
        this.startChunk();
        return;
      }
      case 'keep': {
        if (this.chunkId === 'fmt ') this.parseFmt();
        else this.parseDs64();
        this.startSkip(this.chunkSize - this.want + (this.chunkSize & 1));
        return;
      }
      case 'id3': {
        // ID3v2: "ID3" major minor flags size(4 × 7 bits, syncsafe)
        const major = b[3]!;
        const sizeBytes = [b[6]!, b[7]!, b[8]!, b[9]!];
        if (major === 0xff || b[4] === 0xff || sizeBytes.some((x) => x >= 0x80)) {
          throw this.bad('malformed ID3v2 tag header at the start of the MP3 body');
        }
        const size = (sizeBytes[0]! << 21) | (sizeBytes[1]! << 14) | (sizeBytes[2]! << 7) | sizeBytes[3]!;
        const footer = major >= 4 && (b[5]! & 0x10) !== 0 ? 10 : 0;
        this.tagBytes += 10 + size + footer;
        this.phase = 'skip';
        this.skip = size + footer;
        if (this.skip === 0) this.expect('afterTag', 3);
        return;
      }
      default:
        return;
    }
  }

  /**
   * Follows the MPEG frame chain through `chunk[off..]`: each 4-byte header gives its frame's length, so the
   * body must end exactly at a frame's end (or after a 128-byte ID3v1 `TAG`); a body cut inside a frame is
   * caught by `finish`. A header that does not parse (free-format bitrate, junk) ends the walk leniently.
   */
  private walkFrames(chunk: Uint8Array, off: number): void {
    const len = chunk.length;
    while (off < len && !this.lostSync) {
      if (this.frameLeft > 0) {
        const n = Math.min(this.frameLeft, len - off);
        this.frameLeft -= n;
        off += n;
        continue;
      }
      const h = this.frameHead;
      while (this.frameHeadFill < 4 && off < len) h[this.frameHeadFill++] = chunk[off++]!;
      if (this.frameHeadFill < 4) return;
      this.frameHeadFill = 0;
      if (h[0] === 0x54 && h[1] === 0x41 && h[2] === 0x47) {
        this.frameLeft = 128 - 4; // ID3v1 "TAG" at the end of the stream
        continue;
      }
      const size = mpegFrameLength(h, 0);
      if (size === undefined || size < 4) {
        this.lostSync = true;
        return;
      }
      this.framesSeen++;
      this.frameLeft = size - 4;
    }
  }

  /** After an ID3v2 tag: an MPEG frame sync must follow (or another ID3v2 tag). */
  private checkAfterTag(): void {
    const got = this.buf.subarray(0, this.fill);
    if (prefixMatches(got, 0, ID3)) {
      if (this.fill < 3) return;
      this.expect('id3', 10);
      this.buf.set(ID3, 0);
      this.fill = 3;
      return;
    }
    const sync = frameSync(got, 0);
    if (sync === 'yes') {
      this.phase = 'frames';
      this.walkFrames(got.slice(), 0); // the first bytes of the first frame's header
    } else if (sync === 'no') {
      throw this.bad(`the ${this.tagBytes}-byte ID3v2 tag is not followed by an MPEG audio frame`);
    }
  }

  private startChunk(): void {
    const id = this.chunkId;
    const size = this.chunkSize;
    if (!/^[\x20-\x7e]{4}$/.test(id)) {
      throw this.bad(`corrupt WAV header: ${printableId(id)} where a chunk id was expected`);
    }
    if (id === 'data') {
      if (!this.fmt) throw this.bad('malformed WAV: the "data" chunk comes before any "fmt " chunk');
      if (this.container === 'RF64') {
        if (!this.ds64) throw this.bad('malformed RF64: no "ds64" chunk before the "data" chunk');
        this.riffSize = this.ds64.riff === 0 || this.ds64.riff >= 2 ** 53 ? undefined : this.ds64.riff;
        const d = size === 0xffffffff ? this.ds64.data : size;
        this.dataDeclared = d === 0 || d >= 2 ** 53 ? undefined : d;
      } else {
        this.dataDeclared = SIZE_SENTINELS.has(size) ? undefined : size;
      }
      this.dataOddPad = this.dataDeclared !== undefined && this.dataDeclared % 2 === 1;
      this.phase = 'data';
      this.dataReceived = 0;
      return;
    }
    if (id === 'fmt ') {
      if (size < 16) throw this.bad(`malformed WAV: the "fmt " chunk is ${size} bytes (at least 16 needed)`);
      this.expect('keep', Math.min(size, FMT_KEEP));
      return;
    }
    if (id === 'ds64' && this.container === 'RF64') {
      if (size < DS64_KEEP)
        throw this.bad(`malformed RF64: the "ds64" chunk is ${size} bytes (at least 24 needed)`);
      this.expect('keep', DS64_KEEP);
      return;
    }
    // LIST, fact, JUNK, bext, ...: skip, padded to an even size.
    this.startSkip(size + (size & 1));
  }

  private parseFmt(): void {
    const b = this.buf;
    let formatTag = u16(b, 0);
    const channels = u16(b, 2);
    const sampleRate = u32(b, 4);
    const bitsPerSample = u16(b, 14);
    if (formatTag === 0xfffe && this.want >= 26) formatTag = u16(b, 24); // SubFormat GUID's first 2 bytes
    if (channels === 0 || sampleRate === 0) {
      throw this.bad(`malformed WAV: "fmt " declares ${channels} channel(s) at ${sampleRate} Hz`);
    }
    const codec = CODECS[formatTag] ?? `format 0x${formatTag.toString(16).padStart(4, '0')}`;
    this.fmt = { formatTag, codec, channels, sampleRate, bitsPerSample };
  }

  private parseDs64(): void {
    this.ds64 = { riff: u64(this.buf, 0), data: u64(this.buf, 8) };
  }

  private describeWav(): string {
    const f = this.fmt;
    if (!f) return this.container;
    const ch = f.channels === 1 ? 'mono' : f.channels === 2 ? 'stereo' : `${f.channels} ch`;
    return `${this.container} ${f.codec} ${f.sampleRate} Hz ${ch} ${f.bitsPerSample}-bit`;
  }

  private finish(): AudioCheck {
    if (this.phase === 'sniff') {
      const head = this.head!;
      if (head.length === 0) throw this.truncated('empty body (0 bytes): no audio arrived');
      if (matchAudio(head) === 'maybe') {
        throw this.truncated(
          `the body ended after ${head.length} bytes, before the audio header was complete`,
        );
      }
      throw this.notAudio(head, true)!;
    }
    const format = this.fmtKind!;
    if (format === 'wav') this.finishWav();
    else if (this.phase !== 'frames') {
      throw this.truncated(
        `the MP3 body ended after ${this.total} bytes, inside or right after its ID3v2 tag`,
      );
    } else if (!this.lostSync && (this.frameLeft > 0 || this.frameHeadFill > 0)) {
      const missing = this.frameLeft > 0 ? `${this.frameLeft} bytes short` : 'inside a frame header';
      throw this.truncated(
        `the MP3 body ended after ${this.total} bytes, in the middle of frame ${this.framesSeen} (${missing})`,
      );
    }
    const result: AudioCheck = {
      format,
      ext: format,
      contentType: format === 'wav' ? 'audio/wav' : 'audio/mpeg',
      bytes: this.total,
    };
    const declared = extFromContentType(this.contentType);
    if (this.contentType && declared !== format && !GENERIC_TYPES.has(mediaType(this.contentType))) {
      result.mismatch = `Content-Type ${this.contentType} but the body is ${format === 'wav' ? 'WAV' : 'MP3'}`;
    }
    const wav = this.wav;
    if (wav) result.wav = wav;
    return result;
  }

  private finishWav(): void {
    if (this.phase !== 'data') {
      const where =
        this.phase === 'riff'
          ? 'inside the RIFF header'
          : this.phase === 'chunk'
            ? 'between chunks, before the "data" chunk'
            : `inside the ${printableId(this.chunkId)} chunk, before the "data" chunk`;
      throw this.truncated(`the WAV body ended after ${this.total} bytes, ${where}`);
    }
    const declared = this.dataDeclared;
    if (declared === undefined) return; // "read to EOF": any length is whole (SoX: disable any length logic)
    if (this.dataReceived < declared) {
      throw this.truncated(
        `truncated WAV (${this.describeWav()}): the data chunk declares ${declared} bytes but ${this.dataReceived} arrived (${this.total} bytes in all)`,
      );
    }
    const riff = this.riffSize;
    if (riff !== undefined) {
      const expected = riff + 8;
      const missing = expected - this.total;
      if (missing > (this.dataOddPad ? 1 : 0)) {
        throw this.truncated(
          `truncated WAV (${this.describeWav()}): the ${this.container} size declares ${expected} bytes but ${this.total} arrived`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Bodies kept without validation

/** What the sink asks of a body check: the extension once known, every chunk, and a verdict at the end. */
export interface BodyCheck {
  /** The file extension (no dot) once the first bytes decided it; `undefined` before. */
  readonly format: string | undefined;
  /** Feeds the next chunk; throws `E_BAD_AUDIO` when the bytes show the body is an error page. */
  push(chunk: Uint8Array): void;
  /** The verdict: extension and content type. Throws `E_TRUNCATED` (empty) or `E_BAD_AUDIO`. */
  end(): { format: string; contentType: string };
}

/**
 * The check of a body a vendor declares it cannot validate (`FetchedBody.unvalidated`: headerless G.711 from
 * the CC-Gateway). It sniffs the first bytes (up to 512) only to refuse an error page: a body that looks like
 * HTML, XML, JSON or plain text is `E_BAD_AUDIO`; anything else (WAV and MP3 included) is accepted as it is
 * with the vendor's extension and content type. Nothing after the head is looked at. An empty body is
 * `E_TRUNCATED` (retryable), as for {@link AudioValidator}.
 */
export class UnvalidatedBody implements BodyCheck {
  private head: Uint8Array | undefined = new Uint8Array(0);
  private decided = false;
  private failure: RecpullError | undefined;

  /** `ext` (no dot) and `contentType` are what the file is saved as; `given` the response's Content-Type. */
  constructor(
    private readonly declared: { ext: string; contentType: string },
    private readonly given?: string,
  ) {}

  get format(): string | undefined {
    return this.decided ? this.declared.ext : undefined;
  }

  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.decided || chunk.length === 0) return;
    const prev = this.head!;
    const head = new Uint8Array(Math.min(prev.length + chunk.length, SNIFF_CAP));
    head.set(prev);
    head.set(chunk.subarray(0, head.length - prev.length), prev.length);
    this.head = head;
    if (head.length >= SNIFF_CAP) this.decide();
  }

  end(): { format: string; contentType: string } {
    if (this.failure) throw this.failure;
    if (!this.decided) {
      if ((this.head?.length ?? 0) === 0) {
        throw new RecpullError('E_TRUNCATED', 'empty body (0 bytes): no audio arrived', { retryable: true });
      }
      this.decide();
    }
    return { format: this.declared.ext, contentType: this.declared.contentType };
  }

  private decide(): void {
    const head = this.head!;
    const audio = matchAudio(head);
    const kind = audio === 'wav' || audio === 'mp3' ? undefined : classifyNonAudio(head, true);
    this.head = undefined;
    this.decided = true;
    if (kind !== undefined && kind !== 'unknown') {
      const ct = this.given ? ` (Content-Type: ${this.given})` : '';
      this.failure = new RecpullError(
        'E_BAD_AUDIO',
        `the body is not audio: it looks like ${KIND_TEXT[kind]}${ct}`,
      );
      throw this.failure;
    }
  }
}
