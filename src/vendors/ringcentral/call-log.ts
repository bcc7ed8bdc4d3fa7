/**
 * Reading the call log: `GET {server}/restapi/v1.0/account/~/call-log` (readCompanyCallLog) or
 * `.../account/~/extension/{extensionId|~}/call-log` (readUserCallLog), both in the Heavy group
 * (reference/ringcentral/extract-spec-calllog-recording.yml; docs/docs_voice_call-log_api.md).
 *
 * - A date range: `dateFrom`, `dateTo` (ISO 8601 with a zone), `recordingType=All` (calls with a recording),
 *   `perPage` up to 1000; pages are followed through `navigation.nextPage.uri` until it is absent (no totals:
 *   docs_voice_call-log_details.md).
 * - A session: `sessionId` alone; combined with another filter RingCentral answers CLG-110
 *   (docs_basics_errors.md, reference/ringcentral/csn-events-notes.md).
 */
import type { RcApi } from './api.js';
import type { CallLogRecord } from './meta.js';

/** Whose call log: the account's, or one extension's (an id, or `~` for the JWT's own). */
export interface CallLogScope {
  server: string;
  extension?: string;
}

/** What to list. `perPage`: 1..1000. */
export type CallLogFilter =
  { dateFrom: Date; dateTo: Date; perPage: number } | { sessionId: string } | { telephonySessionId: string };

/** One page (CallLogResponse). */
export interface CallLogPage {
  uri?: string;
  records?: CallLogRecord[];
  navigation?: { nextPage?: { uri?: string } };
}

/** The URL of the first page. */
export function callLogUrl(scope: CallLogScope, filter: CallLogFilter): URL {
  const ext = scope.extension !== undefined ? `/extension/${encodeURIComponent(scope.extension)}` : '';
  const url = new URL(`/restapi/v1.0/account/~${ext}/call-log`, scope.server);
  const q = url.searchParams;
  if ('sessionId' in filter) q.set('sessionId', filter.sessionId);
  else if ('telephonySessionId' in filter) {
    q.set('telephonySessionId', filter.telephonySessionId);
    q.set('recordingType', 'All');
  } else {
    q.set('dateFrom', filter.dateFrom.toISOString());
    q.set('dateTo', filter.dateTo.toISOString());
    q.set('recordingType', 'All');
    q.set('perPage', String(filter.perPage));
  }
  return url;
}

/** The pages of a listing, lazily, following `navigation.nextPage` (each page is one Heavy request). */
export async function* callLogPages(
  api: RcApi,
  first: URL,
  signal: AbortSignal,
): AsyncGenerator<CallLogPage> {
  let next: URL | undefined = first;
  for (let n = 1; next; n++) {
    const page: CallLogPage = await api.getJson<CallLogPage>(next, {
      signal,
      what: `RingCentral call log, page ${n}`,
    });
    yield page;
    const uri = page.navigation?.nextPage?.uri;
    next = uri ? new URL(uri, first) : undefined;
  }
}
