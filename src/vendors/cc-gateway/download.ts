/**
 * `GET /agentgateway/resource/recordfile/{agentid}?recordId=..&filetype=..[&locationId=..]` for a signed-in
 * agent (seed huawei-cc-gateway-download-recordings.txt). Success is a file stream (`application/octet-stream`);
 * failure is JSON `{retcode, message, result}` whatever the HTTP status (real gateways send 200). The two are
 * told apart by the Content-Type and by the first bytes, so a JSON answer is never saved as audio.
 */
import { RecpullError } from '../../core/errors.js';
import { fetchedBody, header, readText, statusError } from '../../core/http.js';
import type { FetchedBody } from '../../core/source.js';
import { type G711Law, g711WavLength, wrapG711 } from '../../formats/g711-wav.js';
import { type CcRecordId, parseRecordPath } from './record.js';
import { downloadError, SESSION_RETCODES } from './retcodes.js';
import { type CcGatewaySession, parseRetcode } from './session.js';

/** Huawei advises against downloading recordings larger than 30 MB (seed): above this a warning, bytes. */
export const LARGE_RECORDING_BYTES = 30 * 1024 * 1024;

/** Options of {@link downloadRecording}. */
export interface DownloadOptions {
  signal: AbortSignal;
  /** The ref's key, carried by errors. */
  key?: string;
  /** Wrap a headerless body (no RIFF header) in a WAV header of this G.711 law (8 kHz mono). */
  rawFormat?: G711Law;
  /** Called with a warning (recordings over {@link LARGE_RECORDING_BYTES}). */
  warn?: (message: string) => void;
}

/**
 * Downloads one recording. Resolves with the body (a RIFF WAV as sent; a headerless body as sent, marked
 * `unvalidated` with the record's own extension ({@link rawExtension}), or wrapped in a WAV header when
 * `rawFormat` is set, with `contentType` `audio/wav` and the wrapped length).
 *
 * A session retcode (`100-006`, or `000-003` confirmed by a fresh event poll) signs in again once
 * ({@link CcGatewaySession.recover}) and repeats the request once. Throws the errors of `downloadError`
 * (`E_NOT_FOUND` 104-005, `E_INPUT` 000-002, `E_PERMISSION` 104-001/104-010, `E_HTTP` 000-003 for this file
 * only), `E_AUTH` when the session is lost for good, `statusError` for a non-JSON HTTP error, transport errors.
 */
export async function downloadRecording(
  session: CcGatewaySession,
  id: CcRecordId,
  opts: DownloadOptions,
): Promise<FetchedBody> {
  const query: Record<string, string> = { recordId: id.recordId, filetype: id.filetype };
  if (id.locationId !== undefined) query.locationId = id.locationId;
  const agent = encodeURIComponent(session.opts.agentId);
  for (let round = 0; ; round++) {
    await session.ready();
    const answer = await session.call('GET', `recordfile/${agent}`, { signal: opts.signal, query });
    const { res } = answer;
    const type = (header(res, 'content-type') ?? '').toLowerCase();
    let head: Buffer | undefined;
    let rest: AsyncIterator<Uint8Array> | undefined;
    if (!/json|text\//.test(type)) {
      if (res.statusCode !== 200) {
        const text = await readText(res, 2048).catch(() => '');
        throw statusError(res, 'CC-Gateway recordfile', text);
      }
      rest = (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      head = await peek(rest, 16);
    }
    if (head === undefined || looksLikeJson(head)) {
      const text = head
        ? Buffer.concat([head, await readRest(rest as AsyncIterator<Uint8Array>, 64 * 1024)]).toString('utf8')
        : await readText(res, 64 * 1024);
      if (!head && res.statusCode !== 200 && !text.trim().startsWith('{')) {
        throw statusError(res, 'CC-Gateway recordfile', text);
      }
      const parsed = parseRetcode(text, res.statusCode);
      if (parsed.retcode === '0') {
        throw new RecpullError('E_PROTOCOL', 'the CC-Gateway answered retcode 0 but sent no recording', {
          status: res.statusCode,
          vendorCode: '0',
        });
      }
      if (SESSION_RETCODES.has(parsed.retcode) && round === 0) {
        const lost = parsed.retcode === '100-006' || (await session.checkAlive(opts.signal)) === 'lost';
        if (lost) {
          await session.recover(answer.epoch, `${parsed.retcode} on a download`, opts.signal);
          continue;
        }
      }
      if (parsed.retcode === '100-006') {
        throw new RecpullError(
          'E_AUTH',
          `the CC-Gateway session was lost again (100-006) right after signing in`,
          {
            vendorCode: '100-006',
          },
        );
      }
      throw downloadError(parsed.retcode, parsed.message, opts.key);
    }
    const fetched = fetchedBody(res);
    const body = watchSize(prepend(head, rest as AsyncIterator<Uint8Array>), id.recordId, opts.warn);
    if (fetched.length !== undefined && fetched.length > LARGE_RECORDING_BYTES) {
      opts.warn?.(tooLarge(id.recordId, fetched.length));
    }
    const isWav = isRiff(head);
    const base = { ...fetched, resumable: false };
    if (isWav) return { ...base, body };
    if (!opts.rawFormat) {
      return {
        ...base,
        body,
        unvalidated: { ext: rawExtension(id.recordId), contentType: 'application/octet-stream' },
      };
    }
    const { length, ...rest2 } = base;
    return {
      ...rest2,
      body: wrapG711(body, opts.rawFormat, length),
      contentType: 'audio/wav',
      ...(length !== undefined ? { length: g711WavLength(length) } : {}),
    };
  }
}

/**
 * The extension a headerless body is saved with: the record's own (`V3` of `…/1902050.V3`), or `raw` when
 * it has none, is not 1–8 letters and digits, or would claim a format the bytes are not (`wav`, `mp3`).
 */
export function rawExtension(recordId: string): string {
  const ext = parseRecordPath(recordId).recordExt;
  return /^[A-Za-z0-9]{1,8}$/.test(ext) && !/^(wav|wave|mp3)$/i.test(ext) ? ext : 'raw';
}

/** Reads from `it` until at least `n` bytes (or the end); returns them. */
async function peek(it: AsyncIterator<Uint8Array>, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const next = await it.next();
    if (next.done) break;
    chunks.push(Buffer.from(next.value));
    got += next.value.length;
  }
  return Buffer.concat(chunks);
}

/** The rest of a body, at most `limit` bytes kept (the rest read and dropped). */
async function readRest(it: AsyncIterator<Uint8Array>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for (let next = await it.next(); !next.done; next = await it.next()) {
    if (n < limit) chunks.push(Buffer.from(next.value).subarray(0, limit - n));
    n += next.value.length;
  }
  return Buffer.concat(chunks);
}

async function* prepend(head: Buffer, rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (head.length > 0) yield head;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}

/** Passes the body on, warning once when it grows past the documented limit without a Content-Length. */
async function* watchSize(
  body: AsyncIterable<Uint8Array>,
  recordId: string,
  warn: ((message: string) => void) | undefined,
): AsyncGenerator<Uint8Array> {
  let n = 0;
  let warned = false;
  for await (const chunk of body) {
    n += chunk.length;
    if (!warned && n > LARGE_RECORDING_BYTES) {
      warned = true;
      warn?.(tooLarge(recordId, n));
    }
    yield chunk;
  }
}

function tooLarge(recordId: string, bytes: number): string {
  return `${recordId} is over 30 MB (${bytes} bytes), which Huawei advises against downloading through the CC-Gateway; downloading it anyway`;
}

/** `{` (after optional whitespace / BOM) followed by `"`: a JSON object, not audio. */
function looksLikeJson(head: Buffer): boolean {
  return /^[\uFEFF\s]*\{\s*("|$)/.test(head.toString('latin1').replace(/^\xEF\xBB\xBF/, ''));
}

function isRiff(head: Buffer): boolean {
  const tag = head.subarray(0, 4).toString('latin1');
  return tag === 'RIFF' || tag === 'RF64';
}
