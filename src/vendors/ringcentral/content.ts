/**
 * Downloading a recording's content: `GET contentUri` with `Authorization: Bearer` (reference/ringcentral/docs/
 * docs_basics_media.md). `Content-Type` is `audio/mpeg` or `audio/wav` (older `audio/x-wav`); the sink picks
 * the extension from the bytes and checks them against it. Media supports `Range` ("Downloading partial
 * content"): a body cut off mid-way continues with `Range: bytes=<offset>-` and `If-Range: <ETag>`; only a
 * `206` whose `Content-Range` starts at that offset (and whose ETag, if any, is unchanged) is appended to the
 * `.part`, anything else starts over (as undici's retry-handler does).
 */
import { RecpullError } from '../../core/errors.js';
import { drain, fetchedBody, header, readText } from '../../core/http.js';
import type { FetchContext, FetchedBody } from '../../core/source.js';
import type { RcApi } from './api.js';
import { rcStatusError, readError } from './errors.js';

/** `bytes <start>-<end>/<total|*>` → its numbers. */
export function parseContentRange(value: string | undefined): { start: number; end: number } | undefined {
  const m = value ? /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]) };
}

/** A media type recpull may write as audio (the sink still checks the bytes). */
function audioLike(contentType: string | undefined): boolean {
  if (!contentType) return true;
  const t = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return t.startsWith('audio/') || t === 'application/octet-stream' || t === 'binary/octet-stream';
}

/**
 * Starts the download of `url` (resuming `ctx.resume` when set). Resolves with the body on 200/206.
 * A 200 that is not audio (an HTML or JSON page) throws retryable `E_HTTP` and is never handed to the sink
 * as audio; other statuses throw the mapped error (`E_NOT_FOUND` with vendorCode CMN-102 for 404...).
 */
export async function downloadContent(
  api: RcApi,
  url: URL,
  ctx: FetchContext,
  what: string,
): Promise<FetchedBody> {
  const resume = ctx.resume;
  const headers: Record<string, string> = { accept: 'audio/*, application/octet-stream;q=0.9' };
  if (resume) {
    headers.range = `bytes=${resume.offset}-`;
    if (resume.etag) headers['if-range'] = resume.etag;
  }
  const res = await api.get(url, { signal: ctx.signal, what, headers });
  const startOver = async () => {
    await drain(res);
    const { resume: _dropped, ...fresh } = ctx;
    return downloadContent(api, url, fresh, what);
  };
  if (res.statusCode === 206) {
    const range = parseContentRange(header(res, 'content-range'));
    const etag = header(res, 'etag');
    const changed = resume?.etag !== undefined && etag !== undefined && etag !== resume.etag;
    if (!resume || !range || range.start !== resume.offset || changed) return startOver();
    return fetchedBody(res, range.start);
  }
  if (res.statusCode === 416 && resume) return startOver();
  if (res.statusCode === 200) {
    const type = header(res, 'content-type');
    if (!audioLike(type)) {
      const text = await readText(res, 2048).catch(() => '');
      throw new RecpullError(
        'E_HTTP',
        `${what}: HTTP 200 with ${type} instead of audio${text.trim() ? ` (${text.trim().slice(0, 80)})` : ''}`,
        { retryable: true, status: 200 },
      );
    }
    return fetchedBody(res);
  }
  throw rcStatusError(res, await readError(res), what);
}
