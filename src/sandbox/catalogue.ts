/**
 * Deterministic recordings for the sandbox emulators: valid 8 kHz mono G.711 (µ-law) WAV files whose bytes
 * depend only on the recording id and the seed, so tests can rebuild the expected file and compare bytes.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { type BodySource, bufferBody } from './server.js';

/** A seeded 32-bit PRNG (mulberry32); returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The start of the current UTC day (ms since the epoch). Emulators whose recording ids carry a call's start
 * time (Noojee uniqueids, CC-FS file names) place their catalogue just before it, so every start on one day
 * serves the same recordings and a second `recpull demo` skips them.
 */
export function dayAnchor(now = Date.now()): number {
  return Math.floor(now / 86_400_000) * 86_400_000;
}

/** A stable 32-bit hash of a string (first 4 bytes of its sha256). */
export function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** The WAV header size recpull's sandbox writes (RIFF + fmt (18 bytes, cbSize 0) + fact + data headers). */
const HEADER_BYTES = 58;

/** The 58-byte header of a sandbox WAV of `size` bytes in all (µ-law, 8000 Hz, mono, with a `fact` chunk). */
function wavHeader(size: number): Buffer {
  const dataBytes = size - HEADER_BYTES;
  const buf = Buffer.alloc(HEADER_BYTES);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(size - 8, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(18, 16);
  buf.writeUInt16LE(7, 20); // WAVE_FORMAT_MULAW
  buf.writeUInt16LE(1, 22); // channels
  buf.writeUInt32LE(8000, 24); // sample rate
  buf.writeUInt32LE(8000, 28); // bytes per second
  buf.writeUInt16LE(1, 32); // block align
  buf.writeUInt16LE(8, 34); // bits per sample
  buf.writeUInt16LE(0, 36); // cbSize
  buf.write('fact', 38, 'ascii');
  buf.writeUInt32LE(4, 42);
  buf.writeUInt32LE(dataBytes, 46); // samples
  buf.write('data', 50, 'ascii');
  buf.writeUInt32LE(dataBytes, 54);
  return buf;
}

/**
 * The bytes of {@link makeWav} as a sequence of chunks of at most `chunkBytes` (default 64 KiB), generated as
 * they are read: a recording of any size (500 MB) is served without ever being held in memory.
 */
export function* wavChunks(
  id: string,
  totalBytes: number,
  seed = 1,
  chunkBytes = 64 * 1024,
  opts: ContentOptions = {},
): Generator<Buffer> {
  const size = Math.max(HEADER_BYTES, Math.floor(totalBytes));
  yield wavHeader(size);
  if (opts.fast) {
    // One seeded 64 KiB block per id, repeated: the emulator sends GB/s without being the bottleneck.
    const block = fastBlock(id, seed);
    for (let left = size - HEADER_BYTES; left > 0;) {
      const n = Math.min(block.length, left);
      left -= n;
      yield n === block.length ? block : block.subarray(0, n);
    }
    return;
  }
  const rand = prng(hash32(`${seed}:${id}`));
  const freq = 200 + Math.floor(rand() * 800);
  // One period of the tone, then per sample a little seeded noise: distinct per id, cheap per byte.
  const period = Math.max(2, Math.round(8000 / freq));
  const tone = new Int32Array(period);
  for (let i = 0; i < period; i++) tone[i] = Math.round(Math.sin((2 * Math.PI * i) / period) * 16_383);
  const table = mulawTable();
  let i = 0;
  for (let left = size - HEADER_BYTES; left > 0;) {
    const n = Math.min(chunkBytes, left);
    const buf = Buffer.allocUnsafe(n);
    for (let j = 0; j < n; j++, i++) {
      const sample = (tone[i % period] as number) + Math.floor((rand() - 0.5) * 3277);
      buf[j] = table[(sample + 32768) & 0xffff] as number;
    }
    left -= n;
    yield buf;
  }
}

/** How an emulator generates recording content. */
export interface ContentOptions {
  /**
   * Fill the data chunk with one 64 KiB block per id (an AES-128-CTR keystream keyed by the seed and id:
   * deterministic, distinct per id, any byte a valid µ-law sample), repeated. For benchmarks, where the
   * per-byte tone generator would be the bottleneck. Still a valid WAV; not the same bytes as the default.
   */
  fast?: boolean;
}

const FAST_BLOCK_BYTES = 64 * 1024;
let lastFast: { key: string; block: Buffer } | undefined;

/** The 64 KiB block of the fast content mode for `id` (the last one is cached: a body asks once per chunk run). */
function fastBlock(id: string, seed: number): Buffer {
  const key = `${seed}:fast:${id}`;
  if (lastFast?.key === key) return lastFast.block;
  const k = createHash('sha256').update(key).digest();
  const cipher = createCipheriv('aes-128-ctr', k.subarray(0, 16), k.subarray(16, 32));
  const block = Buffer.concat([cipher.update(Buffer.alloc(FAST_BLOCK_BYTES)), cipher.final()]);
  lastFast = { key, block };
  return block;
}

/**
 * Builds a WAV file of exactly `totalBytes` bytes (at least the 58-byte header): WAVE_FORMAT_MULAW (7),
 * 8000 Hz, mono, 8 bits, with a `fact` chunk, as G.711 recorders write it. The audio is a tone whose pitch
 * and noise depend on `id`, so every recording has distinct content. Same bytes as {@link wavChunks}.
 */
export function makeWav(id: string, totalBytes: number, seed = 1, opts: ContentOptions = {}): Buffer {
  return Buffer.concat([
    ...wavChunks(id, totalBytes, seed, Math.max(HEADER_BYTES, Math.floor(totalBytes)), opts),
  ]);
}

let mulaw: Uint8Array | undefined;
/** µ-law codes of every 16-bit sample, indexed by `sample + 32768`. */
function mulawTable(): Uint8Array {
  if (!mulaw) {
    mulaw = new Uint8Array(65536);
    for (let v = 0; v < 65536; v++) mulaw[v] = linearToMulaw(v - 32768);
  }
  return mulaw;
}

/** ITU-T G.711 µ-law encoding of one 16-bit linear sample. */
export function linearToMulaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let s = Math.max(-32768, Math.min(32767, sample));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/**
 * A minimal valid MPEG-1 Layer III stream of about `totalBytes`: an ID3v2 tag then silent 128 kbit/s
 * 8 kHz-compatible frames (MPEG-2.5 is not needed; MPEG-1 44.1 kHz frames of 417 bytes). Content depends on id.
 */
export function makeMp3(id: string, totalBytes: number, seed = 1): Buffer {
  const frameLen = 417; // MPEG-1 L3 128 kbit/s 44.1 kHz, no padding
  const id3 = Buffer.alloc(10 + 32);
  id3.write('ID3', 0, 'ascii');
  id3[3] = 4; // ID3v2.4
  id3[4] = 0;
  id3[5] = 0;
  // syncsafe size of the tag body (32 bytes)
  id3[9] = 32;
  id3.write(`recpull sandbox ${id}`.slice(0, 32).padEnd(32, ' '), 10, 'latin1');
  const frames = Math.max(
    1,
    Math.floor((Math.max(totalBytes, id3.length + frameLen) - id3.length) / frameLen),
  );
  const body = Buffer.alloc(frames * frameLen);
  const rand = prng(hash32(`${seed}:mp3:${id}`));
  for (let f = 0; f < frames; f++) {
    const o = f * frameLen;
    body[o] = 0xff;
    body[o + 1] = 0xfb; // MPEG-1, Layer III, no CRC
    body[o + 2] = 0x90; // 128 kbit/s, 44.1 kHz
    body[o + 3] = 0xc4; // mono
    for (let i = o + 4; i < o + frameLen; i++) body[i] = Math.floor(rand() * 256);
  }
  return Buffer.concat([id3, body]);
}

/** One recording in an emulator's catalogue. */
export interface CatalogueEntry {
  id: string;
  format: 'wav' | 'mp3';
  bytes: number;
}

/** Options shared by the emulators' catalogues. Sizes in bytes. */
export interface CatalogueOptions {
  seed?: number;
  minBytes?: number;
  maxBytes?: number;
}

/** The size in bytes of recording `id`, deterministic within [minBytes, maxBytes]. */
export function sizeFor(id: string, opts: CatalogueOptions = {}): number {
  const min = opts.minBytes ?? 16_000;
  const max = Math.max(min, opts.maxBytes ?? 64_000);
  return min + (hash32(`${opts.seed ?? 1}:size:${id}`) % (max - min + 1));
}

/** The bytes of a catalogue entry, built whole (for tests that compare downloads; emulators stream `bodyOf`). */
export function contentOf(entry: CatalogueEntry, seed = 1, opts: ContentOptions = {}): Buffer {
  return entry.format === 'mp3'
    ? makeMp3(entry.id, entry.bytes, seed)
    : makeWav(entry.id, entry.bytes, seed, opts);
}

/**
 * The bytes of a catalogue entry as a streamed body (`sendBody`): a WAV is generated as it is sent, from any
 * offset, never held whole; an MP3 (small in the sandbox) is built first.
 */
export function bodyOf(entry: CatalogueEntry, seed = 1, opts: ContentOptions = {}): BodySource {
  if (entry.format === 'mp3') return bufferBody(makeMp3(entry.id, entry.bytes, seed));
  const length = Math.max(58, Math.floor(entry.bytes));
  return {
    length,
    *chunks(start) {
      let pos = 0;
      for (const chunk of wavChunks(entry.id, length, seed, 64 * 1024, opts)) {
        const end = pos + chunk.length;
        if (end > start) yield pos >= start ? chunk : chunk.subarray(start - pos);
        pos = end;
      }
    },
  };
}
