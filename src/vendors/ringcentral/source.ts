/**
 * `recpull ringcentral`: which recordings to fetch and how.
 *
 * - A date range: the call log (account or one extension), every recording of every record, each once.
 * - Sessions: the call log filtered by `sessionId` alone.
 * - Recording ids: the seed's hybrid approach (seeds/ringcentral-recording-from-call-session-event.txt,
 *   "3) Hybrid Approach"): the content URL built on the media server, and on a 404 the `contentUri` of the
 *   recording metadata (`GET /restapi/v1.0/account/~/recording/{id}`, readCallRecording).
 * - Call-session events: recordings of ended sessions (./events.ts), resolved through the call log by
 *   `sessionId` when they are fetched; not in the call log yet, or content 404 CMN-102, is `E_NOT_READY`
 *   (retried by the engine for up to `--not-ready-wait`).
 *
 * A ref of an event is resolved at fetch time (`fieldsAtFetch`): its call-log record and the fields it gives
 * come back in the `FetchedBody` (`record`, `fields`), so the output template and `--metadata` see them;
 * the ref itself is never changed.
 */
import type { Readable } from 'node:stream';
import { RecpullError } from '../../core/errors.js';
import { type EventSink, now } from '../../core/events.js';
import { field, readInputBatches, readInputRows } from '../../core/input.js';
import { rowItem, scalarFields } from '../../core/input-refs.js';
import type { RateLimiter } from '../../core/rate-limit.js';
import type {
  FetchContext,
  FetchedBody,
  InputRowError,
  MetaValue,
  RecordingRef,
  RefItem,
  RunOutcome,
  Source,
} from '../../core/source.js';
import type { RcApi } from './api.js';
import type { RcAuth } from './auth.js';
import { type CallLogFilter, type CallLogScope, callLogPages, callLogUrl } from './call-log.js';
import { downloadContent } from './content.js';
import { CallSessions, type CsnParty, eventBody } from './events.js';
import {
  accountIdOf,
  CALL_LOG_TEMPLATE,
  type CallLogRecord,
  metaFromRecord,
  RECORDING_ID_TEMPLATE,
  RINGCENTRAL_FIELDS,
  recordingsOf,
  refFromId,
  refFromRecord,
} from './meta.js';

/** What to fetch. Dates are instants; `perPage` 1..1000. */
export type RcSelection =
  | { kind: 'range'; from: Date; to: Date; perPage: number }
  | { kind: 'sessions'; ids: string[] }
  | { kind: 'recordings'; ids: string[] }
  | { kind: 'recording-list'; input: Readable }
  | { kind: 'events'; input: Readable };

/** Everything the source needs. */
export interface RcSourceOptions {
  api: RcApi;
  auth: RcAuth;
  /** The run's limiters, whose waits become `rate-limit-wait` events. */
  limiters: RateLimiter[];
  server: string;
  mediaServer: string;
  /** `~` or an extension id: that extension's call log instead of the account's. */
  extension?: string;
  /** IANA zone of the template's date fields. */
  tz: string;
  selection: RcSelection;
  /** A content 404 (CMN-102) for a call that ended less than this long ago means "not ready yet", ms (default 1 h). */
  notReadyHorizonMs?: number;
  /** Called when the run succeeded (advances the `--since-last` cursor). */
  onSuccess?: () => Promise<void>;
}

/**
 * The Source of one `recpull ringcentral` run (see the module comment). `open` signs in (a refused JWT stops
 * the run with exit 3) and routes the limiters' waits to `rate-limit-wait` events; `close` advances the
 * `--since-last` cursor when the run succeeded, then revokes the token.
 */
export class RingCentralSource implements Source {
  readonly vendor = 'ringcentral';
  readonly fields = RINGCENTRAL_FIELDS;
  readonly defaultTemplate: string;
  private readonly scope: CallLogScope;
  private account: Promise<string> | undefined;
  /** Call-log lookups by session, shared by the recordings of one session (events). */
  private readonly sessions = new Map<string, Promise<CallLogRecord[]>>();
  /** Refs made from call-session events (resolved through the call log when fetched). */

  constructor(private readonly o: RcSourceOptions) {
    const byId = o.selection.kind === 'recordings' || o.selection.kind === 'recording-list';
    this.defaultTemplate = byId ? RECORDING_ID_TEMPLATE : CALL_LOG_TEMPLATE;
    this.scope = { server: o.server, ...(o.extension !== undefined ? { extension: o.extension } : {}) };
  }

  async open(ctx: { signal: AbortSignal; emit: EventSink }): Promise<void> {
    for (const l of this.o.limiters) l.onWait = (w) => ctx.emit({ type: 'rate-limit-wait', at: now(), ...w });
    await this.o.auth.token(ctx.signal); // a refused JWT stops the run here (exit 3)
  }

  async close(outcome: RunOutcome): Promise<void> {
    try {
      if (outcome.ok) await this.o.onSuccess?.();
    } finally {
      await this.o.auth.revoke();
    }
  }

  async *refs(signal: AbortSignal): AsyncIterable<RefItem | RefItem[]> {
    const sel = this.o.selection;
    switch (sel.kind) {
      case 'range':
        yield* this.listed({ dateFrom: sel.from, dateTo: sel.to, perPage: sel.perPage }, signal);
        return;
      case 'sessions':
        for (const [i, id] of sel.ids.entries()) {
          let found = false;
          for await (const ref of this.listed({ sessionId: id }, signal)) {
            found = true;
            yield ref;
          }
          if (!found) {
            yield {
              inputError: new RecpullError('E_NOT_FOUND', `session ${id}: no recorded call in the call log`),
              line: i + 1,
            };
          }
        }
        return;
      case 'recordings': {
        const account = await this.accountId(signal);
        for (const id of sel.ids) yield refFromId(account, id);
        return;
      }
      case 'recording-list':
        yield* this.fromList(sel.input, signal);
        return;
      case 'events':
        yield* this.fromEvents(sel.input, signal);
        return;
    }
  }

  async fetch(ref: RecordingRef, ctx: FetchContext): Promise<FetchedBody> {
    const recordingId = String(ref.meta.recordingId);
    const what = `RingCentral recording ${recordingId}`;
    const fromEvents = ref.fieldsAtFetch === true;
    const learned = fromEvents ? await this.resolve(ref, recordingId, ctx.signal) : undefined;
    const record = (learned?.record ?? ref.record) as CallLogRecord | undefined;
    if (record === undefined) return this.byId(recordingId, ctx, what);
    const contentUri = recordingsOf(record).find((r) => String(r.id) === recordingId)?.contentUri;
    if (!contentUri) throw new RecpullError('E_PROTOCOL', `${what}: the call-log record has no contentUri`);
    try {
      const body = await downloadContent(this.o.api, new URL(contentUri), ctx, what);
      return learned ? { ...body, ...learned } : body;
    } catch (err) {
      throw this.notReady(err, record, fromEvents);
    }
  }

  /** The refs of a listing, each recording once. */
  private async *listed(filter: CallLogFilter, signal: AbortSignal): AsyncIterable<RecordingRef> {
    const seen = new Set<string>();
    for await (const page of callLogPages(this.o.api, callLogUrl(this.scope, filter), signal)) {
      const pageAccount = accountIdOf(page.uri);
      for (const record of page.records ?? []) {
        for (const recording of recordingsOf(record)) {
          const id = String(recording.id);
          if (seen.has(id)) continue;
          seen.add(id);
          const account = accountIdOf(record.uri) ?? accountIdOf(recording.uri) ?? pageAccount;
          yield refFromRecord(record, recording, account ?? (await this.accountId(signal)), this.o.tz);
        }
      }
    }
  }

  /**
   * `--input`: rows with a `recordingId` column (other columns become template fields), in arrays of up
   * to 128 (`rowItem`, src/core/input-refs.ts). The account id is asked for at the first row that names a
   * recording, as before: a list of unreadable rows sends nothing.
   */
  private async *fromList(input: Readable, signal: AbortSignal): AsyncIterable<RefItem[]> {
    let account: string | undefined;
    for await (const rows of readInputBatches(input)) {
      let items: RefItem[] = [];
      for (const row of rows) {
        const id = 'error' in row ? undefined : field(row.fields, 'recordingId', 'recording_id', 'recording');
        if ('error' in row || id === undefined) {
          items.push(
            rowItem(row, (r) => ({
              inputError: new RecpullError('E_INPUT', `line ${r.line}: missing recordingId`),
              line: r.line,
            })),
          );
          continue;
        }
        if (account === undefined) {
          if (items.length > 0) yield items; // the rows before are counted even if the account cannot be had
          items = [];
          account = await this.accountId(signal);
        }
        items.push({ ...refFromId(account, id, scalarFields(row.fields)), line: row.line });
      }
      if (items.length > 0) yield items;
    }
  }

  /** `--events`: the recordings of sessions that ended, as their events arrive; unfinished ones at the end. */
  private async *fromEvents(
    input: Readable,
    signal: AbortSignal,
  ): AsyncIterable<RecordingRef | InputRowError> {
    const tracker = new CallSessions();
    for await (const row of readInputRows(input)) {
      if ('error' in row) {
        yield { inputError: row.error, line: row.line };
        continue;
      }
      const event = eventBody(row.fields);
      if (!event) {
        yield {
          inputError: new RecpullError(
            'E_INPUT',
            `line ${row.line}: not a call-session event (no telephonySessionId or sessionId)`,
          ),
          line: row.line,
        };
        continue;
      }
      for (const r of tracker.add(event.body, row.line, event.accountId)) {
        const account = r.accountId ?? (await this.accountId(signal));
        const meta = eventMeta(r.party, r.sessionId, r.telephonySessionId);
        yield { ...refFromId(account, r.recordingId, meta), line: r.line, fieldsAtFetch: true };
      }
    }
    for (const u of tracker.unfinished()) {
      yield {
        inputError: new RecpullError(
          'E_NOT_READY',
          `session ${u.session}: the call had not ended when the events did (statuses ${u.statuses.join(', ')}); recordings ${u.recordingIds.join(', ')} not fetched`,
        ),
        line: u.line,
      };
    }
  }

  /**
   * Finds the call-log record of an event's recording and the template fields it gives; `E_NOT_READY` while
   * the call log lacks it.
   */
  private async resolve(
    ref: RecordingRef,
    recordingId: string,
    signal: AbortSignal,
  ): Promise<{ record: CallLogRecord; fields: Record<string, MetaValue> }> {
    const sessionId = ref.meta.sessionId as string | undefined;
    const telephonySessionId = ref.meta.telephonySessionId as string | undefined;
    const key = sessionId ?? `t:${telephonySessionId}`;
    let lookup = this.sessions.get(key);
    if (!lookup) {
      const filter: CallLogFilter = sessionId
        ? { sessionId }
        : { telephonySessionId: telephonySessionId as string };
      lookup = (async () => {
        const records: CallLogRecord[] = [];
        for await (const page of callLogPages(this.o.api, callLogUrl(this.scope, filter), signal))
          records.push(...(page.records ?? []));
        return records;
      })();
      this.sessions.set(key, lookup);
    }
    let records: CallLogRecord[];
    try {
      records = await lookup;
    } catch (err) {
      this.sessions.delete(key);
      throw err;
    }
    const record = records.find((r) => recordingsOf(r).some((x) => String(x.id) === recordingId));
    if (!record) {
      if (this.sessions.get(key) === lookup) this.sessions.delete(key);
      throw new RecpullError(
        'E_NOT_READY',
        `recording ${recordingId} of session ${sessionId ?? telephonySessionId} is not in the call log yet`,
        { retryable: true },
      );
    }
    const recording = recordingsOf(record).find((x) => String(x.id) === recordingId)!;
    return { record, fields: metaFromRecord(record, recording, String(ref.meta.accountId), this.o.tz) };
  }

  /** The hybrid approach for a recording known by id only. */
  private async byId(recordingId: string, ctx: FetchContext, what: string): Promise<FetchedBody> {
    const id = encodeURIComponent(recordingId);
    const built = new URL(`/restapi/v1.0/account/~/recording/${id}/content`, this.o.mediaServer);
    try {
      return await downloadContent(this.o.api, built, ctx, what);
    } catch (err) {
      if (!(err instanceof RecpullError) || err.code !== 'E_NOT_FOUND') throw err;
    }
    const meta = await this.o.api.getJson<{ contentUri?: string }>(
      new URL(`/restapi/v1.0/account/~/recording/${id}`, this.o.server),
      { signal: ctx.signal, what: `${what} (metadata)` },
    );
    if (!meta.contentUri)
      throw new RecpullError('E_PROTOCOL', `${what}: the recording metadata has no contentUri`);
    return downloadContent(this.o.api, new URL(meta.contentUri), ctx, what);
  }

  /** A content 404 CMN-102 soon after the call ended (or for an event's call) means "not ready yet". */
  private notReady(err: unknown, record: CallLogRecord, fromEvents: boolean): unknown {
    if (!(err instanceof RecpullError) || err.code !== 'E_NOT_FOUND' || err.vendorCode !== 'CMN-102')
      return err;
    const start = record.startTime ? Date.parse(record.startTime) : Number.NaN;
    const ended = start + (record.duration ?? 0) * 1000;
    const recent = Number.isFinite(ended) && Date.now() - ended < (this.o.notReadyHorizonMs ?? 3_600_000);
    if (!fromEvents && !recent) return err;
    return new RecpullError('E_NOT_READY', `${err.message} (the call ended recently: not ready yet)`, {
      retryable: true,
      status: 404,
      vendorCode: 'CMN-102',
    });
  }

  /** The account id (for keys), learned once from the call log's own URI when nothing else said it. */
  private accountId(signal: AbortSignal): Promise<string> {
    this.account ??= (async () => {
      const to = new Date();
      const url = callLogUrl(this.scope, {
        dateFrom: new Date(to.getTime() - 60_000),
        dateTo: to,
        perPage: 1,
      });
      for await (const page of callLogPages(this.o.api, url, signal)) {
        const id = accountIdOf(page.uri) ?? accountIdOf(page.records?.[0]?.uri);
        if (id) return id;
        break;
      }
      throw new RecpullError('E_PROTOCOL', 'RingCentral did not reveal the account id (call-log uri)');
    })();
    return this.account;
  }
}

/** Template fields known from an event before the call log is read. */
function eventMeta(
  party: CsnParty,
  sessionId?: string,
  telephonySessionId?: string,
): Record<string, MetaValue> {
  return {
    sessionId,
    telephonySessionId,
    direction: party.direction,
    from: party.from?.phoneNumber,
    to: party.to?.phoneNumber,
    extensionId: party.extensionId,
  };
}
