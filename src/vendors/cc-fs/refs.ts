/**
 * CC-FS recordings as the engine sees them: keys, template fields and metadata
 * (keys `cc-fs:<ccId>:file:<fileName>` and `cc-fs:<ccId>:call:<callId>`, see ./protocol.ts).
 *
 * Template fields: `ccId`, `fileName`, `callId`, `name` (the file's base name without extension, or the call
 * id), `date` (`YYYY-MM-DD`: from call_begin, else the `yyyymmdd` segment of the file name, else the epoch
 * seconds a call id starts with, in the tenant's zone; `undated` otherwise), and from an index line
 * `agentId`, `callerNo`, `calleeNo`, `callBegin`, `callEnd`, `accountId`, `vdnId`, `callType`, `mediaType`.
 */
import { zonedParts } from '../../core/dates.js';
import type { MetaValue, RecordingRef } from '../../core/source.js';
import { type CcFsTarget, ccfsKey, checkCcId, normalizeFileName } from './protocol.js';
import type { RecordIndexRow } from './record-index.js';

/** The vendor id (keys, `{vendor}`, the config section). */
export const CCFS_VENDOR = 'cc-fs';

/** Every template field a CC-FS ref may carry. */
export const CCFS_FIELDS = [
  'ccId',
  'fileName',
  'callId',
  'name',
  'date',
  'agentId',
  'callerNo',
  'calleeNo',
  'callBegin',
  'callEnd',
  'accountId',
  'vdnId',
  'callType',
  'mediaType',
] as const;

/**
 * Default output template: `{vendor}/{date}/{name}.{ext}`; a bundle (zip of one call's recordings) goes to
 * the folder the same template names without `.{ext}`: `{vendor}/{date}/{callId}/`.
 */
export const CCFS_DEFAULT_TEMPLATE = '{vendor}/{date}/{name}.{ext}';

/** `YYYY-MM-DD` of a file name's `yyyymmdd` segment (`Y:/6/0/20161025/20011/1902050.V3`), if any. */
function dateOfFileName(fileName: string): string | undefined {
  const m = /(?:^|\/)((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:\/|$)/.exec(fileName);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : undefined;
}

/** `YYYY-MM-DD` in `zone` of a call id that starts with epoch seconds (`1637742300-27`), if any. */
function dateOfCallId(callId: string, zone: string): string | undefined {
  const m = /^(1\d{9})(?:\D|$)/.exec(callId);
  if (!m) return undefined;
  const p = zonedParts(new Date(Number(m[1]) * 1000), zone);
  return `${p.year}-${p.month}-${p.day}`;
}

/** The base name of a file name without its extension (`1902050` of `Y:/6/0/20161025/20011/1902050.V3`). */
function baseName(fileName: string): string {
  const last = fileName.split('/').pop() ?? fileName;
  const dot = last.lastIndexOf('.');
  return dot > 0 ? last.slice(0, dot) : last;
}

/** The ref of a target, with `extra` fields (e.g. input columns) merged under the computed ones. */
export function ccfsRef(t: CcFsTarget, zone: string, extra: Record<string, MetaValue> = {}): RecordingRef {
  const meta: Record<string, MetaValue> = { ...extra, ccId: t.ccId };
  if (t.kind === 'file') {
    meta.fileName = t.fileName;
    meta.name = baseName(t.fileName);
  } else {
    meta.callId = t.callId;
    meta.name = t.callId;
  }
  const begin =
    typeof meta.callBegin === 'string' ? /^(\d{4}-\d{2}-\d{2})/.exec(meta.callBegin)?.[1] : undefined;
  meta.date =
    begin ??
    (t.kind === 'file' ? dateOfFileName(t.fileName) : undefined) ??
    (typeof meta.callId === 'string' ? dateOfCallId(meta.callId, zone) : undefined) ??
    'undated';
  return { key: ccfsKey(t), vendor: CCFS_VENDOR, meta };
}

/**
 * The ref of one recording index line: target `file` with `original_file_name` (`\` → `/`, checked), ccId
 * from `cc_id` (else `defaultCcId`), the call's columns as fields, and the line itself as the record.
 * Throws `E_INPUT` for a file name outside the documented characters.
 */
export function refOfIndexRow(row: RecordIndexRow, zone: string, defaultCcId = '1'): RecordingRef {
  const fileName = normalizeFileName(row.original_file_name ?? '');
  const t: CcFsTarget = { kind: 'file', fileName, ccId: checkCcId(row.cc_id || defaultCcId) };
  const extra: Record<string, MetaValue> = {};
  const put = (field: string, v: string | undefined) => {
    if (v !== undefined && v !== '') extra[field] = v;
  };
  put('callId', row.call_id);
  put('agentId', row.agent_id);
  put('callerNo', row.caller_no);
  put('calleeNo', row.callee_no);
  put('callBegin', row.call_begin);
  put('callEnd', row.call_end);
  put('accountId', row.account_id);
  put('vdnId', row.vdn_id);
  put('callType', row.call_type);
  put('mediaType', row.media_type);
  return { ...ccfsRef(t, zone, extra), record: row };
}
