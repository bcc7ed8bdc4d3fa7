/**
 * How CC-FS answers fail (reference: huawei/ccfs-interface-reference-extract.txt 5.1 "Error Code Reference",
 * 5.2 "Status Code Description"; huawei/ccfs-auth-v2-notes.md): HTTP 200 with a JSON `resultCode`, or HTTP
 * 401 (the auth-v2 string is wrong) / 403 (the caller's IP is locked after too many wrong ones) with
 * `{timestamp, status, error, message, path}`.
 */
import { RecpullError } from '../../core/errors.js';
import { redact } from '../../core/redact.js';

/** The JSON failure body of an operation (5.1; `resultData` and `response` are reserved). */
export interface CcFsResult {
  resultCode?: string;
  resultDesc?: string;
  resultData?: unknown;
}

/** Result codes with a meaning of their own (5.1). */
export const RESULT = {
  ok: '0',
  downloadFlowControl: '0300008',
  queryFlowControl: '0300009',
  fileMissing: '0300011',
  noData: '0300012',
  otherDeveloper: '0300018',
  illegalCharacters: '0300022',
} as const;

/**
 * The error of a non-zero `resultCode`: 0300011/0300012 → `E_NOT_FOUND`; 0300008/0300009 (flow control) →
 * retryable `E_RATE_LIMIT`; 0300018 → `E_PERMISSION` for this item only (not fatal: see `fatal`); 0300022 →
 * `E_INPUT`; anything else → `E_PROTOCOL` naming the code and resultDesc. All carry `vendorCode`.
 */
export function resultError(result: CcFsResult, what: string): RecpullError {
  const code = String(result.resultCode ?? '');
  const desc = redact(String(result.resultDesc ?? '')).slice(0, 300);
  const tail = `${what}: CC-FS resultCode ${code}${desc ? ` (${desc})` : ''}`;
  const o = { vendorCode: code };
  switch (code) {
    case RESULT.fileMissing:
    case RESULT.noData:
      return new RecpullError('E_NOT_FOUND', tail, o);
    case RESULT.downloadFlowControl:
    case RESULT.queryFlowControl:
      return new RecpullError('E_RATE_LIMIT', `${tail}; flow control: slowing down`, {
        ...o,
        retryable: true,
      });
    case RESULT.otherDeveloper:
      return new RecpullError('E_NOT_FOUND', `${tail}: the recording belongs to another developer (AK)`, o);
    case RESULT.illegalCharacters:
      return new RecpullError('E_INPUT', tail, o);
    default:
      return new RecpullError('E_PROTOCOL', tail, o);
  }
}

/** Whether an error is CC-FS flow control (0300008/0300009): the whole queue should slow down. */
export function isFlowControl(err: unknown): boolean {
  return (
    err instanceof RecpullError &&
    (err.vendorCode === RESULT.downloadFlowControl || err.vendorCode === RESULT.queryFlowControl)
  );
}

/** What the 401/403 message should tell the user. */
export interface AuthContext {
  /** The auth-v2 timestamp that was signed (this machine's UTC clock). */
  timestamp: string;
  /** The Host value sent and signed. */
  host: string;
  /** Whether `hostHeader` is set in the profile. */
  hostHeaderSet: boolean;
  /** Profile name, for the message. */
  profile?: string;
}

/**
 * 401 → `E_AUTH`, 403 → `E_PERMISSION` (both exit 3, never retried). Messages name the likely causes: a wrong
 * AK/SK, this machine's clock (the UTC time used is printed), the signed Host (`hostHeader`), and for 403 the
 * IP lock CC-FS applies after repeated failures. `body` is the server's JSON, shown without secrets.
 */
export function authError(status: 401 | 403, ctx: AuthContext, body: string): RecpullError {
  const where = ctx.profile ? ` (profile ${ctx.profile})` : '';
  const server = (() => {
    try {
      const j = JSON.parse(body) as { error?: string; message?: string };
      return j.error
        ? ` [${redact(String(j.error))}${j.message ? `: ${redact(String(j.message))}` : ''}]`
        : '';
    } catch {
      return '';
    }
  })();
  const host = ctx.hostHeaderSet
    ? `the Host signed was "${ctx.host}" (from hostHeader)`
    : `the Host signed was "${ctx.host}"; if CC-FS or the NSLB expects another form (e.g. without the port), set hostHeader`;
  if (status === 401) {
    return new RecpullError(
      'E_AUTH',
      `CC-FS refused the auth-v2 signature (HTTP 401)${server}${where}: either the AK/SK is wrong, or this ` +
        `machine's clock is off (signed at ${ctx.timestamp} UTC by the local clock); ${host}. ` +
        "Stopped at once: CC-FS locks the caller's IP after repeated failures.",
      { status },
    );
  }
  return new RecpullError(
    'E_PERMISSION',
    `CC-FS answered HTTP 403${server}${where}: the caller's IP address is locked after too many wrong auth-v2 ` +
      `strings; it stays locked for a while, do not retry now. Check the AK/SK and the clock (signed at ` +
      `${ctx.timestamp} UTC by the local clock); ${host}.`,
    { status },
  );
}
