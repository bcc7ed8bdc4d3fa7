/**
 * `GET /restapi/v1.0/account/{accountId}/call-log` (readCompanyCallLog) and
 * `GET /restapi/v1.0/account/{accountId}/extension/{extensionId}/call-log` (readUserCallLog), Heavy group.
 *
 * From reference/ringcentral/extract-spec-calllog-recording.yml and the CallLogResponse schema: query
 * `dateFrom` / `dateTo` (ISO 8601 with time zone; `dateFrom` defaults to `dateTo` minus 24 h, `dateTo` to now),
 * `recordingType` (Automatic | OnDemand | All), deprecated `withRecording`, `direction`, `type`, `transport`
 * (multi-valued), `view` (Simple | Detailed), `sessionId`, `telephonySessionId`, `extensionNumber`,
 * `phoneNumber`, `perPage` (1–1000 or `max`, larger values capped at 1000, default 100), `page` (from 1).
 * Records come newest first; `navigation.nextPage.uri` is present while more pages follow (no totals, as in
 * docs/docs_voice_call-log_details.md). `sessionId` combined with another filter → 400 CLG-110
 * (docs/docs_basics_errors.md). In the Detailed view each leg repeats the call's `recording`
 * (docs_voice_call-log_details.md). A call shows up `callLogDelayMs` after it ends (15–30 s in production,
 * docs_voice_call-log_index.md).
 *
 * Date filtering is inclusive at both ends (`dateFrom <= startTime <= dateTo`); with `sessionId` no date range
 * applies.
 */
import { sendJson } from '../server.js';
import type { RcCall, RcExtension } from './calls.js';
import { fail, guard, isOwnAccount, type RcContext, type RcExchange } from './context.js';
import { type RcError, rcErrors } from './errors.js';

/** Query parameters that only shape the answer; `sessionId` may be combined with these. */
const PAGING = new Set(['view', 'perPage', 'page']);
const ENUMS: Record<string, readonly string[]> = {
  direction: ['Inbound', 'Outbound'],
  type: ['Voice', 'Fax'],
  transport: ['PSTN', 'VoIP'],
};
const DAY_MS = 24 * 3600 * 1000;
const ISO_TZ = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** The parsed query of a call-log request. */
interface CallLogQuery {
  view: 'Simple' | 'Detailed';
  perPage: number;
  page: number;
  sessionId: string | null;
  dateFrom: number;
  dateTo: number;
  withRecording: string | undefined;
  directions: string[];
  types: string[];
  transports: string[];
  telephonySessionId: string | null;
  extensionNumber: string | null;
  phoneNumber: string | undefined;
}

/** Handles both call-log operations; `extensionPart` is the `{extensionId}` path segment for readUserCallLog. */
export function handleCallLog(x: RcExchange, accountPart: string, extensionPart?: string): void {
  const { ctx, req, res, entry, url } = x;
  const q = url.searchParams;
  const g = guard(ctx, req, res, entry, q, 'heavy', 'ReadCallLog');
  if (!g) return;
  const scope = scopeOf(ctx, g.owner, accountPart, extensionPart);
  const query = 'status' in scope ? scope : parseQuery(q, ctx.now());
  if ('status' in query) {
    fail(ctx, res, query, g.headers);
    return;
  }
  const ext = 'status' in scope ? undefined : scope.extension;
  const matches = ctx.calls.filter((c) => selected(c, query, ext, ctx.now()));
  matches.sort((a, b) => b.startMs - a.startMs || (a.callLogId < b.callLogId ? -1 : 1));
  sendJson(res, 200, callLogPage(ctx, q, query, matches, ext), g.headers);
}

/** The extension a request is limited to (none: the whole account), or why it may not read it. */
function scopeOf(
  ctx: RcContext,
  owner: RcExtension,
  accountPart: string,
  extensionPart: string | undefined,
): { extension?: RcExtension } | RcError {
  if (!isOwnAccount(ctx, accountPart)) return rcErrors.notFound('accountId');
  if (extensionPart === undefined) return ctx.admin ? {} : rcErrors.userPermission('FullCompanyCallLog');
  const extension = extensionPart === '~' ? owner : ctx.extensions.find((e) => e.id === extensionPart);
  if (!extension) return rcErrors.notFound('extensionId');
  if (!ctx.admin && extension.id !== owner.id) return rcErrors.otherExtension();
  return { extension };
}

/** Validates and parses the query, with the documented defaults. */
function parseQuery(q: URLSearchParams, now: number): CallLogQuery | RcError {
  const sessionId = q.get('sessionId');
  if (sessionId !== null) {
    const other = [...q.keys()].find((k) => k !== 'sessionId' && k !== 'access_token' && !PAGING.has(k));
    if (other) return rcErrors.sessionIdCombined(other);
  }
  const view = q.get('view') ?? 'Simple';
  if (view !== 'Simple' && view !== 'Detailed') return rcErrors.invalidParameter('view', view);
  const perPageText = q.get('perPage') ?? '100';
  const perPage =
    perPageText === 'max' ? 1000 : /^\d+$/.test(perPageText) ? Math.min(1000, Number(perPageText)) : 0;
  if (perPage < 1) return rcErrors.invalidParameter('perPage', perPageText);
  const pageText = q.get('page') ?? '1';
  const page = /^\d+$/.test(pageText) ? Number(pageText) : 0;
  if (page < 1) return rcErrors.invalidParameter('page', pageText);
  for (const [name, allowed] of Object.entries(ENUMS)) {
    const bad = q.getAll(name).find((v) => !allowed.includes(v));
    if (bad !== undefined) return rcErrors.invalidParameter(name, bad);
  }
  const recordingType = q.get('recordingType');
  if (recordingType !== null && !['Automatic', 'OnDemand', 'All'].includes(recordingType))
    return rcErrors.invalidParameter('recordingType', recordingType);
  const dateTo = parseDate(q.get('dateTo'), now);
  if (dateTo === undefined) return rcErrors.invalidParameter('dateTo', q.get('dateTo') ?? '');
  const dateFrom = parseDate(q.get('dateFrom'), dateTo - DAY_MS);
  if (dateFrom === undefined || dateFrom > dateTo)
    return rcErrors.invalidParameter('dateFrom', q.get('dateFrom') ?? '');
  return {
    view,
    perPage,
    page,
    sessionId,
    dateFrom,
    dateTo,
    withRecording: recordingType ?? (q.get('withRecording') === 'true' ? 'All' : undefined),
    directions: q.getAll('direction'),
    types: q.getAll('type'),
    transports: q.getAll('transport'),
    telephonySessionId: q.get('telephonySessionId'),
    extensionNumber: q.get('extensionNumber'),
    phoneNumber: q.get('phoneNumber')?.replace(/^\+/, ''),
  };
}

/** Whether call `c` is in the answer. */
function selected(c: RcCall, q: CallLogQuery, ext: RcExtension | undefined, now: number): boolean {
  if (c.visibleAt > now) return false;
  if (ext && c.extension.id !== ext.id) return false;
  if (q.sessionId !== null) return c.sessionId === q.sessionId;
  if (c.startMs < q.dateFrom || c.startMs > q.dateTo) return false;
  if (q.telephonySessionId !== null && c.telephonySessionId !== q.telephonySessionId) return false;
  if (q.extensionNumber !== null && c.extension.extensionNumber !== q.extensionNumber) return false;
  const phone = q.phoneNumber;
  if (phone !== undefined && ![c.externalNumber, c.extension.phoneNumber].some((n) => n.slice(1) === phone))
    return false;
  if (q.directions.length > 0 && !q.directions.includes(c.direction)) return false;
  if (q.types.length > 0 && !q.types.includes('Voice')) return false;
  if (q.transports.length > 0 && !q.transports.includes('PSTN')) return false;
  if (q.withRecording === 'All') return !!c.recording;
  if (q.withRecording === 'Automatic' || q.withRecording === 'OnDemand')
    return c.recording?.type === q.withRecording;
  return true;
}

/** One CallLogResponse page of `matches`, with `navigation` URIs that keep the request's filters. */
function callLogPage(
  ctx: RcContext,
  q: URLSearchParams,
  query: CallLogQuery,
  matches: RcCall[],
  ext: RcExtension | undefined,
): Record<string, unknown> {
  const { page, perPage, view } = query;
  const acct = `${ctx.platformUrl}/restapi/v1.0/account/${ctx.accountId}`;
  const listBase = ext ? `${acct}/extension/${ext.id}/call-log` : `${acct}/call-log`;
  const pageUri = (n: number) => {
    const p = new URLSearchParams();
    for (const [k, v] of q) if (k !== 'page' && k !== 'perPage' && k !== 'access_token') p.append(k, v);
    p.set('page', String(n));
    p.set('perPage', String(perPage));
    return `${listBase}?${p}`;
  };
  const start = (page - 1) * perPage;
  const slice = matches.slice(start, start + perPage);
  const paging: Record<string, number> = { page, perPage };
  if (slice.length > 0) {
    paging.pageStart = start;
    paging.pageEnd = start + slice.length - 1;
  }
  const navigation: Record<string, { uri: string }> = { firstPage: { uri: pageUri(1) } };
  if (start + perPage < matches.length) navigation.nextPage = { uri: pageUri(page + 1) };
  if (page > 1) navigation.previousPage = { uri: pageUri(page - 1) };
  return {
    uri: pageUri(page),
    records: slice.map((c) => callLogRecord(ctx, c, view, listBase)),
    paging,
    navigation,
  };
}

/** `value` as epoch ms (`fallback` when absent); undefined when it is not ISO 8601 with a time zone. */
function parseDate(value: string | null, fallback: number): number | undefined {
  if (value === null) return fallback;
  if (!ISO_TZ.test(value)) return undefined;
  const t = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(t) ? undefined : t;
}

/** The `recording` object of a call log record (CallLogRecordingInfo). */
export function recordingInfo(ctx: RcContext, c: RcCall): Record<string, string> | undefined {
  const r = c.recording;
  if (!r) return undefined;
  return {
    uri: `${ctx.platformUrl}/restapi/v1.0/account/${ctx.accountId}/recording/${r.id}`,
    id: r.id,
    type: r.type,
    contentUri: contentUriOf(ctx, r.id),
  };
}

/** The media URL of a recording (on the media origin, as `media.ringcentral.com` in production). */
export function contentUriOf(ctx: RcContext, recordingId: string): string {
  return `${ctx.mediaUrl}/restapi/v1.0/account/${ctx.accountId}/recording/${recordingId}/content`;
}

/** One CallLogRecord. */
function callLogRecord(ctx: RcContext, c: RcCall, view: string, listBase: string): Record<string, unknown> {
  const ext = c.extension;
  const internal = {
    phoneNumber: ext.phoneNumber,
    name: ext.name,
    extensionId: ext.id,
    extensionNumber: ext.extensionNumber,
  };
  const external = { phoneNumber: c.externalNumber, location: 'San Francisco, CA' };
  const inbound = c.direction === 'Inbound';
  const extension = {
    uri: `${ctx.platformUrl}/restapi/v1.0/account/${ctx.accountId}/extension/${ext.id}`,
    id: Number(ext.id),
  };
  const recording = recordingInfo(ctx, c);
  const durationMs = c.endMs - c.startMs;
  const base = {
    startTime: new Date(c.startMs).toISOString(),
    duration: Math.round(durationMs / 1000),
    durationMs,
    type: 'Voice',
    direction: c.direction,
    action: inbound ? 'Phone Call' : 'VoIP Call',
    result: inbound ? 'Accepted' : 'Call connected',
    reason: inbound ? 'Accepted' : 'Connected',
    from: inbound ? external : internal,
    to: inbound ? internal : external,
    telephonySessionId: c.telephonySessionId,
    partyId: c.partyId,
    ...(recording ? { recording } : {}),
  };
  const record: Record<string, unknown> = {
    uri: `${listBase}/${c.callLogId}?view=${view}`,
    id: c.callLogId,
    sessionId: c.sessionId,
    extension,
    ...base,
  };
  if (view === 'Detailed') {
    record.transport = 'PSTN';
    record.lastModifiedTime = new Date(c.endMs + 60_000).toISOString();
    record.billing = { costIncluded: 0, costPurchased: 0 };
    const master = {
      ...base,
      transport: inbound ? 'VoIP' : 'PSTN',
      legType: inbound ? 'Accept' : 'SipToPstnMetered',
      master: true,
      extension,
    };
    record.legs = inbound ? [master, { ...base, transport: 'PSTN', legType: 'PstnToSip' }] : [master];
  }
  return record;
}
