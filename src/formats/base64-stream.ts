/**
 * Streaming base64 decoding (RFC 4648 §4, the standard alphabet with `=` padding) for bodies of any size:
 * a Noojee recording arrives as one base64 text of up to ~670 MB (reference: seeds/noojee-recording-api-2.7.14.txt,
 * "These methods returns a BASE64 encoded wav file"; `base64 -d` is the vendor's own decoding advice).
 *
 * Memory is constant: each input chunk is decoded in one pass into one output buffer of at most ¾ of its
 * size, and only the 0–3 sextets of an unfinished quantum are carried to the next chunk.
 *
 * Accepted: line breaks and other whitespace anywhere (CR, LF, space, tab: wrapped lines of 76 or 64
 * columns, indentation). Refused:
 * - any other character, `=` where a quantum cannot end, or data after the padding → `E_PROTOCOL`, not
 *   retryable (the server sent a corrupt recording; another attempt would get the same bytes);
 * - a text that ends in the middle of a quantum (a body cut off, or padding missing) → `E_TRUNCATED`,
 *   retryable (a cut body is not a corrupt recording).
 * Non-zero bits in the unused part of the last sextet (`QR==`) are ignored, as `base64 -d` does.
 */
import { RecpullError } from '../core/errors.js';

/** Table value of `=`. */
const PAD = 64;
/** Table value of whitespace. */
const SPACE = 65;
/** Table value of every other byte. */
const BAD = 255;

/** Byte → sextet (0–63), PAD, SPACE or BAD. */
const TABLE = (() => {
  const t = new Uint8Array(256).fill(BAD);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) t[alphabet.charCodeAt(i)] = i;
  t[0x3d] = PAD;
  for (const c of [0x20, 0x09, 0x0a, 0x0d]) t[c] = SPACE;
  return t;
})();

/** Whether `byte` is a base64 alphabet character or `=` (not whitespace). */
export function isBase64Char(byte: number): boolean {
  return (TABLE[byte] as number) <= PAD;
}

/** Whether `byte` is whitespace the decoder skips (CR, LF, space, tab). */
export function isBase64Space(byte: number): boolean {
  return TABLE[byte] === SPACE;
}

const EMPTY = new Uint8Array(0);

/** `c` for an error message: printable ASCII as is, anything else as `0xNN`. */
function show(c: number): string {
  return c >= 0x21 && c <= 0x7e ? `"${String.fromCharCode(c)}"` : `0x${c.toString(16).padStart(2, '0')}`;
}

/**
 * An incremental base64 decoder: `push` each chunk of text (bytes), then `end` once. Errors carry the
 * 0-based offset of the offending character in the whole text (bytes, whitespace included).
 *
 * @throws RecpullError `E_PROTOCOL` (invalid character, bad padding, data after padding) from `push`;
 *   retryable `E_TRUNCATED` (text ends mid-quantum) from `end`.
 */
export class Base64Decoder {
  /** The sextets of the unfinished quantum, most significant first. */
  private bits = 0;
  /** How many sextets `bits` holds (0–3). */
  private count = 0;
  /** 0: no padding seen; 1: one `=` after 2 sextets, a second one must follow; 2: padding complete. */
  private pad = 0;
  /** Text bytes consumed before the current chunk. */
  private offset = 0;
  /** Decoded bytes produced so far. */
  bytesOut = 0;

  /** Label for error messages, e.g. `the recording's base64`. */
  constructor(private readonly what = 'the base64 text') {}

  /** Decodes one chunk of text; returns the bytes of every quantum it completes (possibly none). */
  push(chunk: Uint8Array): Uint8Array {
    const n = chunk.length;
    if (n === 0) return EMPTY;
    const out = Buffer.allocUnsafe((((this.count + n) >> 2) + 1) * 3);
    let o = 0;
    let bits = this.bits;
    let count = this.count;
    for (let i = 0; i < n; i++) {
      const c = chunk[i] as number;
      const v = TABLE[c] as number;
      if (v < PAD) {
        if (this.pad !== 0) this.afterPadding(c, i);
        bits = (bits << 6) | v;
        if (++count === 4) {
          out[o++] = bits >>> 16;
          out[o++] = (bits >>> 8) & 0xff;
          out[o++] = bits & 0xff;
          bits = 0;
          count = 0;
        }
      } else if (v === SPACE) {
        // skipped
      } else if (v === PAD) {
        if (this.pad === 0) {
          if (count === 3) {
            out[o++] = (bits >>> 10) & 0xff;
            out[o++] = (bits >>> 2) & 0xff;
            this.pad = 2;
          } else if (count === 2) {
            out[o++] = (bits >>> 4) & 0xff;
            this.pad = 1;
          } else {
            throw this.error(`"=" after ${count} of 4 characters of a quantum (bad padding)`, i);
          }
          bits = 0;
          count = 0;
        } else if (this.pad === 1) {
          this.pad = 2;
        } else {
          throw this.error('"=" after the padding was complete (bad padding)', i);
        }
      } else {
        throw this.error(`invalid character ${show(c)}`, i);
      }
    }
    this.bits = bits;
    this.count = count;
    this.offset += n;
    this.bytesOut += o;
    return out.subarray(0, o);
  }

  /**
   * Checks that the text ended on a quantum boundary. Returns no bytes (every complete quantum was already
   * returned by `push`); the return value keeps the push/end symmetry of other decoders.
   * @throws RecpullError retryable `E_TRUNCATED` when the text stops mid-quantum or between two `=`.
   */
  end(): Uint8Array {
    if (this.count !== 0 || this.pad === 1) {
      const have = this.pad === 1 ? 3 : this.count;
      throw new RecpullError(
        'E_TRUNCATED',
        `${this.what} ends in the middle of a 4-character group (${have} of 4) after ${this.offset} characters: the body was cut off`,
        { retryable: true },
      );
    }
    return EMPTY;
  }

  /** Whether the text so far ends on a quantum boundary (nothing would be lost by stopping here). */
  get aligned(): boolean {
    return this.count === 0 && this.pad !== 1;
  }

  private afterPadding(c: number, i: number): never {
    if (this.pad === 1) throw this.error(`${show(c)} where the second "=" of the padding belongs`, i);
    throw this.error(`data (${show(c)}) after the padding`, i);
  }

  private error(detail: string, i: number): RecpullError {
    return new RecpullError(
      'E_PROTOCOL',
      `${this.what} is not valid base64: ${detail} at character ${this.offset + i}`,
    );
  }
}

/**
 * Decodes a stream of base64 text chunks (bytes, or strings of ASCII) into a stream of bytes, one output
 * chunk per input chunk that completes a quantum.
 * @throws RecpullError as {@link Base64Decoder}; errors of `source` pass through unchanged.
 */
export async function* decodeBase64Stream(
  source: AsyncIterable<Uint8Array | string>,
  what?: string,
): AsyncGenerator<Uint8Array> {
  const decoder = new Base64Decoder(what);
  for await (const chunk of source) {
    const bytes = decoder.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    if (bytes.length > 0) yield bytes;
  }
  decoder.end();
}
