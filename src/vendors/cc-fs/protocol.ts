/**
 * CC-FS requests and the values they carry (reference: huawei/ccfs-interface-reference-extract.txt 4.1.2,
 * 4.1.3, 4.1.5 and 5.1; seeds/huawei-cc-fs-download-record-extended.txt): every operation is a POST of
 * `{"request":{"version":"2.0"},"msgBody":{...}}` with `Content-Type: application/json;charset=UTF-8`.
 */
import { RecpullError } from '../../core/errors.js';
import { trimAscii } from '../../core/input.js';

/** Paths of the operations recpull uses. */
export const CCFS_PATHS = {
  downloadRecord: '/CCFS/resource/ccfs/downloadRecord',
  downloadBillFile: '/CCFS/resource/ccfs/downloadBillFile',
  queryBillData: '/CCFS/resource/ccfs/queryBillData',
} as const;

/** The operations recpull calls. */
export type CcFsOperation = keyof typeof CCFS_PATHS;

/** The Content-Type every request is sent (and signed) with. */
export const CCFS_CONTENT_TYPE = 'application/json;charset=UTF-8';

/** What one downloadRecord asks for: a recording by file name, or every recording of a call id. ccId default `1`. */
export type CcFsTarget =
  { kind: 'file'; fileName: string; ccId: string } | { kind: 'call'; callId: string; ccId: string };

/** The exact body bytes of an operation (what is sent is what is signed). */
export function requestBody(msgBody: Record<string, string>): Buffer {
  return Buffer.from(JSON.stringify({ request: { version: '2.0' }, msgBody }), 'utf8');
}

/** msgBody of downloadRecord (4.1.5 Table 3): `fileName` or `callId`, then `ccId` as a string. */
export function downloadRecordBody(t: CcFsTarget): Record<string, string> {
  return t.kind === 'file' ? { fileName: t.fileName, ccId: t.ccId } : { callId: t.callId, ccId: t.ccId };
}

/** downloadRecord's fileName: letters, digits, `:`, `/` and `.` (5.1, 0300022), 1–225 characters. */
const FILE_NAME = /^[A-Za-z0-9:/.]{1,225}$/;
/** downloadBillFile's billFileName: letters, digits, `.`, `-` and `_` (5.1, 0300022), 1–49 characters. */
const BILL_FILE_NAME = /^[A-Za-z0-9._-]{1,49}$/;
/** A call id: 1–25 characters (4.1.5 Table 3); recpull also refuses control characters. */
const CALL_ID = /^[^\u0000-\u001f\u007f]{1,25}$/;

/**
 * A fileName as downloadRecord takes it: `\` turned into `/` (original_file_name in the index is a Windows
 * path, 4.2.1 col. 13), then checked against the documented characters. Throws `E_INPUT`.
 */
export function normalizeFileName(raw: string): string {
  const name = trimAscii(raw).replace(/\\/g, '/');
  if (!FILE_NAME.test(name))
    throw new RecpullError(
      'E_INPUT',
      `fileName ${JSON.stringify(raw)}: CC-FS takes only letters, digits, ":", "/" and "." (at most 225)`,
    );
  return name;
}

/** Checks a billFileName (`yyyyMMdd_<responseId>.zip`). Throws `E_INPUT`. */
export function checkBillFileName(name: string): string {
  if (!BILL_FILE_NAME.test(name))
    throw new RecpullError(
      'E_INPUT',
      `bill file ${JSON.stringify(name)}: CC-FS takes only letters, digits, ".", "-" and "_" (at most 49)`,
    );
  return name;
}

/** Checks a call id. Throws `E_INPUT`. */
export function checkCallId(callId: string): string {
  const id = trimAscii(callId);
  if (!CALL_ID.test(id))
    throw new RecpullError('E_INPUT', `callId ${JSON.stringify(callId)}: expected 1–25 characters`);
  return id;
}

/** Checks a ccId (1–64 characters, sent as a string; default `1`). Throws `E_INPUT`. */
export function checkCcId(ccId: string | number | undefined): string {
  const id = ccId === undefined || ccId === '' ? '1' : trimAscii(String(ccId));
  if (!/^[^\u0000-\u001f\u007f]{1,64}$/.test(id))
    throw new RecpullError('E_INPUT', `ccId ${JSON.stringify(ccId)}: expected 1–64 characters`);
  return id;
}

/** The manifest key of a target: `cc-fs:<ccId>:file:<fileName>` or `cc-fs:<ccId>:call:<callId>`. */
export function ccfsKey(t: CcFsTarget): string {
  return t.kind === 'file' ? `cc-fs:${t.ccId}:file:${t.fileName}` : `cc-fs:${t.ccId}:call:${t.callId}`;
}
