/**
 * Recording metadata (`GET /restapi/v1.0/account/{accountId}/recording/{recordingId}`, readCallRecording, on the
 * platform origin) and content (`GET .../recording/{recordingId}/content`, readCallRecordingContent, on the
 * media origin). Both are in the Heavy group and need the ReadCallRecording permission
 * (reference/ringcentral/extract-spec-calllog-recording.yml).
 *
 * Content: Bearer header (the `access_token` query parameter is also accepted on the media origin, as
 * docs/docs_basics_media.md documents, and counted); `Content-Type` `audio/mpeg`, `audio/wav` or `audio/x-wav`
 * (reference/README.md); `Accept-Ranges: bytes`, an `ETag`, and `Range` requests answered 206 with
 * `Content-Range` (docs_basics_media.md "Downloading partial content"; `bytes=0-` is answered 200 with the
 * whole file, as a server may). A recording whose call ended less than `notReadyMs` ago answers 404 CMN-102,
 * like an unknown one (reference/ringcentral/csn-events-notes.md). The fault plan applies per recording id.
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { contentOf } from '../catalogue.js';
import { sendBody, sendJson } from '../server.js';
import { contentUriOf } from './call-log.js';
import type { RcCall, RcRecording } from './calls.js';
import { fail, guard, isOwnAccount, type RcContext, type RcExchange } from './context.js';
import { type RcError, rcErrors } from './errors.js';

/** The call holding recording `id` once it can be fetched; 404 CMN-102 while unknown or not ready. */
function findReady(
  ctx: RcContext,
  accountPart: string,
  id: string,
): (RcCall & { recording: RcRecording }) | RcError {
  if (!isOwnAccount(ctx, accountPart)) return rcErrors.notFound('accountId');
  const call = ctx.calls.find((c) => c.recording?.id === id);
  if (!call?.recording) return rcErrors.notFound('recordingId');
  if (ctx.now() < call.recording.readyAt) {
    ctx.stats.notReadySent++;
    return rcErrors.notFound('recordingId');
  }
  return call as RcCall & { recording: RcRecording };
}

/** The bytes of recording `id` (deterministic: id, format, size and seed). */
export function recordingBytes(ctx: RcContext, call: RcCall): Buffer {
  const r = call.recording;
  if (!r) throw new Error(`call ${call.callLogId} has no recording`);
  return contentOf({ id: r.id, format: r.format, bytes: r.bytes }, ctx.seed);
}

/** `GET /restapi/v1.0/account/{accountId}/recording/{recordingId}` → GetCallRecordingResponse. */
export function handleRecordingMetadata(x: RcExchange, accountPart: string, recordingId: string): void {
  const { ctx, req, res, entry, url } = x;
  const g = guard(ctx, req, res, entry, url.searchParams, 'heavy', 'ReadCallRecording');
  if (!g) return;
  const found = findReady(ctx, accountPart, recordingId);
  if ('status' in found) {
    fail(ctx, res, found, g.headers);
    return;
  }
  const r = found.recording;
  sendJson(
    res,
    200,
    {
      uri: `${ctx.platformUrl}/restapi/v1.0/account/${ctx.accountId}/recording/${r.id}`,
      id: r.id,
      contentUri: contentUriOf(ctx, r.id),
      contentType: r.contentType,
      duration: r.durationS,
    },
    g.headers,
  );
}

/** `GET {media}/restapi/v1.0/account/{accountId}/recording/{recordingId}/content`. */
export async function handleRecordingContent(
  x: RcExchange,
  accountPart: string,
  recordingId: string,
): Promise<void> {
  const { ctx, req, res, entry, url } = x;
  const q = url.searchParams;
  const g = guard(ctx, req, res, entry, q, 'heavy', 'ReadCallRecording', { media: true });
  if (!g) return;
  const found = findReady(ctx, accountPart, recordingId);
  if ('status' in found) return fail(ctx, res, found, g.headers);
  const r = found.recording;
  const content = recordingBytes(ctx, found);
  const etag = `"${createHash('sha256').update(content).digest('hex').slice(0, 24)}"`;
  const headers: http.OutgoingHttpHeaders = {
    ...g.headers,
    'accept-ranges': 'bytes',
    etag,
    'last-modified': new Date(r.readyAt).toUTCString(),
  };
  const disposition = q.get('contentDisposition');
  if (disposition === 'Attachment' || disposition === 'Inline') {
    const name = q.get('contentDispositionFilename') ?? `${r.id}.${r.format}`;
    headers['content-disposition'] =
      `${disposition.toLowerCase()}; filename="${name.replace(/["\\\r\n]/g, '_')}"`;
  }

  const fault = ctx.faults.next(recordingId);
  if (fault) entry.fault = fault;
  const plan = ctx.faults.plan;
  if (fault === 'serverError')
    return fail(ctx, res, rcErrors.unavailable(plan.serverError?.status ?? 500), g.headers);
  if (fault === 'tooMany') {
    const retryAfter = String(plan.tooMany?.retryAfterS ?? 1);
    return fail(ctx, res, rcErrors.rateExceeded(), {
      ...g.headers,
      'x-rate-limit-remaining': '0',
      'retry-after': retryAfter,
    });
  }

  const ifRange = req.headers['if-range'];
  const range = parseRange(
    req.headers.range,
    content.length,
    typeof ifRange === 'string' ? ifRange : undefined,
    etag,
  );
  if (range === 'unsatisfiable') {
    return fail(ctx, res, rcErrors.rangeNotSatisfiable(), {
      ...headers,
      'content-range': `bytes */${content.length}`,
    });
  }
  if (range && range.end < content.length - 1) {
    // A closed range short of the end: answered without body faults.
    const part = content.subarray(range.start, range.end + 1);
    res.writeHead(206, {
      ...headers,
      'content-type': r.contentType,
      'content-length': part.length,
      'content-range': `bytes ${range.start}-${range.end}/${content.length}`,
    });
    res.end(part);
    return;
  }
  await sendBody(res, content, r.contentType, plan, fault, headers, range?.start ?? 0);
}

/**
 * The single byte range asked for; undefined to send the whole file (no or unusable Range, or an If-Range
 * that does not match the current ETag).
 */
function parseRange(
  header: string | undefined,
  size: number,
  ifRange: string | undefined,
  etag: string,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  if (ifRange !== undefined && ifRange !== etag) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    if (start >= size) return 'unsatisfiable';
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (end < start) return undefined;
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
