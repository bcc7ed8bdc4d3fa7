/**
 * A body that may not grow past what it promised: at most `maxBytes` in all (`--max-size`), at most its
 * `Content-Length`, and, for a RIFF file, at most the size its header declares (a WAV whose RIFF size says N
 * and whose body keeps coming is cut off, not saved as a whole file). Streams; holds nothing back.
 */
import { RecpullError } from '../core/errors.js';

/** The limits of one body. Sizes in bytes. */
export interface BodyLimits {
  /** Largest file accepted (the `--max-size` of the run). */
  maxBytes: number;
  /** Bytes already in the file before this body (a resumed `.part`). */
  offset?: number;
  /** The body's own length, when the server said (`Content-Length`). */
  declared?: number;
}

/**
 * Yields `body`'s chunks, throwing when a limit is passed: `E_TOO_LARGE` (not retryable) past `maxBytes`;
 * retryable `E_PROTOCOL` past `declared` or past the RIFF header's size (a body that does not end where it
 * said is not trusted).
 */
export async function* boundedBody(
  body: AsyncIterable<Uint8Array>,
  limits: BodyLimits,
): AsyncIterable<Uint8Array> {
  const offset = limits.offset ?? 0;
  let seen = 0;
  let riffLimit: number | undefined;
  const head: number[] = [];
  for await (const chunk of body) {
    if (offset === 0 && head.length < 8) {
      for (let i = 0; i < chunk.length && head.length < 8; i++) head.push(chunk[i] as number);
      if (head.length === 8) riffLimit = riffSize(Buffer.from(head));
    }
    seen += chunk.length;
    if (offset + seen > limits.maxBytes) {
      throw new RecpullError(
        'E_TOO_LARGE',
        `the recording is larger than --max-size (${limits.maxBytes} bytes); cut off after ${offset + seen} bytes`,
      );
    }
    if (limits.declared !== undefined && seen > limits.declared) {
      throw new RecpullError(
        'E_PROTOCOL',
        `the body is longer than its Content-Length (${limits.declared} bytes)`,
        {
          retryable: true,
        },
      );
    }
    if (riffLimit !== undefined && seen > riffLimit) {
      throw new RecpullError(
        'E_PROTOCOL',
        `the body goes on past the ${riffLimit} bytes its RIFF header declares`,
        { retryable: true },
      );
    }
    yield chunk;
  }
}

/** The file size a RIFF header (first 8 bytes) declares, with the pad byte; undefined when open-ended. */
function riffSize(head: Buffer): number | undefined {
  if (head.toString('latin1', 0, 4) !== 'RIFF') return undefined;
  const size = head.readUInt32LE(4);
  if (size === 0 || size === 0xffffffff) return undefined; // streaming writers leave it open
  return size + 8 + (size % 2);
}
