/**
 * What identifies a CC-Gateway recording, its key, and the template fields taken from its record path.
 *
 * The record path is the `fileName` of an `AgentMediaEvent_Record` (agentgateway-notes.md, doc cec_07_1381),
 * sent as `recordId`. For agent call recordings it reads
 * `{drive}:/{VDN id}/{0 inbound | 1 outbound}/{yyyymmdd}/{agent id}/{ms}.V3` (ccfs-interface-reference-extract.txt,
 * "original_file_name"), e.g. `Y:/6/0/20161025/20011/1902050.V3`; IVR voice messages are
 * `{drive}:/{VDN id}/record/{yyyymmdd}/...` and third-party ones `{drive}:/3rdfile/{VDN id}/record/...`
 * (seed huawei-cc-gateway-download-recordings.txt). Backslashes occur too (`y:\1\0\20181217\120\1524488.V3`).
 */
import { RecpullError } from '../../core/errors.js';
import { field, type InputRow } from '../../core/input.js';
import { scalarFields } from '../../core/input-refs.js';
import type { RecordingRef } from '../../core/source.js';

/** One recording to fetch. `filetype`: 1 agent call recording (default), 2 IVR / third-party voice message. */
export interface CcRecordId {
  recordId: string;
  /** Node id, mandatory in CTI pool mode; absent = not sent. */
  locationId?: string;
  filetype: '1' | '2';
  callId?: string;
}

/** The template fields every CC-Gateway ref carries (besides `vendor`, `ext`, `key`). */
export const CC_GATEWAY_FIELDS = [
  'recordId',
  'locationId',
  'filetype',
  'callId',
  'vdn',
  'direction',
  'date',
  'agent',
  'name',
  'recordExt',
] as const;

/** The default output template: date and agent folders of the record path; never a drive letter, `:` or `\`. */
export const CC_GATEWAY_TEMPLATE = '{vendor}/{date}/{agent}/{name}.{ext}';

/** `cc-gateway:<locationId or 0>:<recordId>` (the record path as given). */
export function ccGatewayKey(id: CcRecordId): string {
  return `cc-gateway:${id.locationId ?? '0'}:${id.recordId}`;
}

/** The parts of a record path. `date` is `undated` and `agent` `unknown` when the path does not say. */
export interface RecordPathParts {
  vdn?: string;
  /** `inbound` (0) or `outbound` (1), agent call recordings only. */
  direction?: 'inbound' | 'outbound';
  date: string;
  agent: string;
  /** File name without extension, e.g. `1902050`. */
  name: string;
  /** The record's own extension without the dot, e.g. `V3`; empty when it has none. */
  recordExt: string;
}

/** Splits a record path (`/` or `\`, drive letter dropped) into its template fields. */
export function parseRecordPath(recordId: string): RecordPathParts {
  const segs = recordId.split(/[\\/]+/).filter((s) => s !== '');
  if (segs[0] && /^[A-Za-z]:$/.test(segs[0])) segs.shift();
  const file = segs.pop() ?? recordId;
  const dot = file.lastIndexOf('.');
  const name = (dot > 0 ? file.slice(0, dot) : file).replace(/[:\\]/g, '_') || '_';
  const recordExt = dot > 0 ? file.slice(dot + 1) : '';
  const dateAt = segs.findIndex((s) => /^\d{8}$/.test(s));
  const out: RecordPathParts = {
    date: dateAt >= 0 ? (segs[dateAt] as string) : 'undated',
    agent: dateAt >= 0 && segs[dateAt + 1] !== undefined ? (segs[dateAt + 1] as string) : 'unknown',
    name,
    recordExt,
  };
  if (segs[0] === '3rdfile') segs.shift();
  if (segs[0] && /^\d+$/.test(segs[0])) out.vdn = segs[0];
  if (dateAt === 2 && (segs[1] === '0' || segs[1] === '1'))
    out.direction = segs[1] === '0' ? 'inbound' : 'outbound';
  return out;
}

/** The ref of one recording; `extra` (other input columns) become template fields too, never over ours. */
export function ccGatewayRef(
  id: CcRecordId,
  extra: Record<string, unknown> = {},
  line?: number,
): RecordingRef {
  const meta = scalarFields(extra);
  const parts = parseRecordPath(id.recordId);
  Object.assign(meta, parts, {
    recordId: id.recordId,
    locationId: id.locationId ?? '0',
    filetype: id.filetype,
    callId: id.callId,
  });
  return {
    key: ccGatewayKey(id),
    vendor: 'cc-gateway',
    meta,
    record: { ...id, ...parts },
    ...(line !== undefined ? { line } : {}),
  };
}

/**
 * An input row → a recording: column `recordId` (alias `fileName`) required; `locationId`, `filetype`,
 * `callId` optional, an empty cell meaning "not given"; `defaultFiletype` when no filetype is given.
 * Throws `E_INPUT` (with the line) for a missing recordId, a filetype other than 1 or 2, a non-numeric
 * locationId.
 */
export function recordIdFromRow(
  row: Extract<InputRow, { fields: unknown }>,
  defaultFiletype: '1' | '2' = '1',
): CcRecordId {
  const recordId = field(row.fields, 'recordId', 'fileName');
  if (recordId === undefined) {
    throw new RecpullError('E_INPUT', `line ${row.line}: missing recordId (or fileName)`);
  }
  const filetype = field(row.fields, 'filetype') ?? defaultFiletype;
  if (filetype !== '1' && filetype !== '2') {
    throw new RecpullError('E_INPUT', `line ${row.line}: filetype must be 1 or 2, not "${filetype}"`);
  }
  const locationId = field(row.fields, 'locationId');
  if (locationId !== undefined && !/^\d+$/.test(locationId)) {
    throw new RecpullError('E_INPUT', `line ${row.line}: locationId must be a number, not "${locationId}"`);
  }
  const callId = field(row.fields, 'callId');
  return {
    recordId,
    filetype,
    ...(locationId !== undefined ? { locationId } : {}),
    ...(callId !== undefined ? { callId } : {}),
  };
}
