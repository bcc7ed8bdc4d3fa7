/**
 * What a RingCentral recording is called: its key (`ringcentral:<accountId>:<recordingId>`, DESIGN.md
 * "Contracts") and the template fields taken from its call-log record (CallLogRecord in rc-public-openapi.yml;
 * samples in reference/ringcentral/docs/code-samples_voice_call-log-sample.json and the seed).
 */
import { zonedParts } from '../../core/dates.js';
import type { MetaValue, RecordingRef } from '../../core/source.js';

/** A caller or callee of a call-log record (CallLogCallerInfo / CallLogRecordTo...). */
export interface CallLogParty {
  phoneNumber?: string;
  extensionNumber?: string;
  extensionId?: string;
  name?: string;
}

/** The `recording` object of a call-log record (CallLogRecordingInfo). */
export interface CallLogRecording {
  id?: string;
  uri?: string;
  type?: string;
  contentUri?: string;
}

/** The fields of a call-log record recpull reads (the whole record is kept for `--metadata`). */
export interface CallLogRecord {
  uri?: string;
  id?: string;
  sessionId?: string;
  telephonySessionId?: string;
  startTime?: string;
  /** Call duration, seconds. */
  duration?: number;
  direction?: string;
  from?: CallLogParty;
  to?: CallLogParty;
  extension?: { id?: number | string; uri?: string };
  recording?: CallLogRecording;
  /** Detailed view only: the legs, each possibly with its own `recording`. */
  legs?: CallLogRecord[];
}

/** Every template field a RingCentral ref may carry (besides `vendor`, `ext`, `key`). */
export const RINGCENTRAL_FIELDS = [
  'accountId',
  'recordingId',
  'callLogId',
  'sessionId',
  'telephonySessionId',
  'startTime',
  'date',
  'time',
  'year',
  'month',
  'day',
  'direction',
  'from',
  'to',
  'fromName',
  'toName',
  'extensionId',
  'duration',
  'recordingType',
] as const;

/** Default template for recordings known from the call log: date folders, start time, direction, numbers, id. */
export const CALL_LOG_TEMPLATE =
  '{vendor}/{year}/{month}/{day}/{date}_{time}_{direction}_{from}_{to}_{recordingId}.{ext}';

/** Default template for recordings fetched by id alone (no call-log record, hence no date or numbers). */
export const RECORDING_ID_TEMPLATE = '{vendor}/recordings/{recordingId}.{ext}';

/** `ringcentral:<accountId>:<recordingId>` */
export function ringcentralKey(accountId: string, recordingId: string): string {
  return `ringcentral:${accountId}:${recordingId}`;
}

/** The account id in a RingCentral resource URI (`.../account/<id>/...`), unless it is `~`. */
export function accountIdOf(uri: string | undefined): string | undefined {
  const m = uri ? /\/account\/([^/?#]+)/.exec(uri) : null;
  const id = m?.[1] ? decodeURIComponent(m[1]) : undefined;
  return id && id !== '~' ? id : undefined;
}

/** The recordings of a record: its own and (Detailed view) its legs', each once. */
export function recordingsOf(record: CallLogRecord): CallLogRecording[] {
  const out = new Map<string, CallLogRecording>();
  for (const r of [record.recording, ...(record.legs ?? []).map((l) => l.recording)]) {
    if (r?.id !== undefined && r.id !== '' && !out.has(String(r.id))) out.set(String(r.id), r);
  }
  return [...out.values()];
}

/** A number or name for a file name: the phone number, else the extension number, else the name. */
function partyLabel(p: CallLogParty | undefined): string {
  return p?.phoneNumber || p?.extensionNumber || p?.name || 'unknown';
}

/** The template fields of one recording of `record`, dates in time zone `tz`. */
export function metaFromRecord(
  record: CallLogRecord,
  recording: CallLogRecording,
  accountId: string,
  tz: string,
): Record<string, MetaValue> {
  const meta: Record<string, MetaValue> = {
    accountId,
    recordingId: String(recording.id),
    callLogId: record.id,
    sessionId: record.sessionId,
    telephonySessionId: record.telephonySessionId,
    direction: record.direction || 'unknown',
    from: partyLabel(record.from),
    to: partyLabel(record.to),
    fromName: record.from?.name || 'unknown',
    toName: record.to?.name || 'unknown',
    extensionId: record.extension?.id !== undefined ? String(record.extension.id) : undefined,
    duration: record.duration,
    recordingType: recording.type,
  };
  const start = record.startTime ? new Date(record.startTime) : undefined;
  if (start && !Number.isNaN(start.getTime())) {
    const p = zonedParts(start, tz);
    Object.assign(meta, {
      startTime: record.startTime,
      date: `${p.year}-${p.month}-${p.day}`,
      time: `${p.hour}${p.minute}${p.second}`,
      year: p.year,
      month: p.month,
      day: p.day,
    });
  }
  return meta;
}

/** The ref of one recording of a call-log record (`record` is written by `--metadata`). */
export function refFromRecord(
  record: CallLogRecord,
  recording: CallLogRecording,
  accountId: string,
  tz: string,
): RecordingRef {
  return {
    key: ringcentralKey(accountId, String(recording.id)),
    vendor: 'ringcentral',
    meta: metaFromRecord(record, recording, accountId, tz),
    record,
  };
}

/** A ref known by its recording id only (`--recording-id`, events before the call log is read). */
export function refFromId(
  accountId: string,
  recordingId: string,
  extra: Record<string, MetaValue> = {},
): RecordingRef {
  return {
    key: ringcentralKey(accountId, recordingId),
    vendor: 'ringcentral',
    meta: { ...extra, accountId, recordingId },
  };
}
