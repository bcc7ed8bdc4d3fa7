/**
 * Wraps a headerless G.711 body (A-law or µ-law, 8 kHz mono, one byte a sample) in a WAV header, as a
 * stream: the bytes pass through as they arrive, memory does not grow with the body.
 *
 * Layout (58-byte header; reference/audio: non-PCM `fmt ` carries `cbSize` and a `fact` chunk):
 * `RIFF <size> WAVE`, `fmt ` (18 bytes: tag 6 A-law / 7 µ-law, 1 channel, 8000 Hz, 8000 bytes/s, block
 * align 1, 8 bits, cbSize 0), `fact` (4 bytes: samples), `data <bytes>`, the samples, and a pad byte when
 * the sample count is odd (RIFF chunks are word-aligned).
 *
 * The header needs the body length. When it is known (Content-Length) the sizes are exact, so a cut-off
 * body is caught by the sink's WAV check; when it is not, the RIFF and `data` sizes are the streaming
 * sentinel 0xFFFFFFFF ("read to the end", accepted by FFmpeg, SoX and recpull's validator) and `fact` is 0.
 */

/** The two G.711 laws. */
export type G711Law = 'alaw' | 'mulaw';

/** Size of the header {@link g711WavHeader} writes, bytes. */
export const G711_WAV_HEADER_BYTES = 58;

const UNKNOWN = 0xffffffff;

/** The WAV header of `dataBytes` G.711 samples (undefined: unknown length, streaming sentinels). */
export function g711WavHeader(law: G711Law, dataBytes: number | undefined): Buffer {
  const known = dataBytes !== undefined && dataBytes + G711_WAV_HEADER_BYTES + 1 < UNKNOWN;
  const data = known ? dataBytes : UNKNOWN;
  const buf = Buffer.alloc(G711_WAV_HEADER_BYTES);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(known ? G711_WAV_HEADER_BYTES - 8 + dataBytes + (dataBytes % 2) : UNKNOWN, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(18, 16);
  buf.writeUInt16LE(law === 'alaw' ? 6 : 7, 20);
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(8000, 24); // Hz
  buf.writeUInt32LE(8000, 28); // bytes per second
  buf.writeUInt16LE(1, 32); // block align
  buf.writeUInt16LE(8, 34); // bits per sample
  buf.writeUInt16LE(0, 36); // cbSize
  buf.write('fact', 38, 'ascii');
  buf.writeUInt32LE(4, 42);
  buf.writeUInt32LE(known ? data : 0, 46); // samples
  buf.write('data', 50, 'ascii');
  buf.writeUInt32LE(data, 54);
  return buf;
}

/** Bytes of the wrapped file for `dataBytes` samples: header, samples, pad byte when odd. */
export function g711WavLength(dataBytes: number): number {
  return G711_WAV_HEADER_BYTES + dataBytes + (dataBytes % 2);
}

/**
 * Yields the WAV header, then `body` unchanged, then a pad byte if `dataBytes` is odd and the body
 * delivered exactly that many bytes. With `dataBytes` undefined the header uses the streaming sentinels.
 * A body longer or shorter than `dataBytes` is passed on as it is (the sink's WAV check reports it).
 */
export async function* wrapG711(
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  law: G711Law,
  dataBytes?: number,
): AsyncGenerator<Uint8Array> {
  yield g711WavHeader(law, dataBytes);
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    yield chunk;
  }
  if (dataBytes !== undefined && n === dataBytes && dataBytes % 2 === 1) yield Buffer.alloc(1);
}
