/**
 * RingCentral error bodies and what recpull makes of them.
 *
 * REST errors are `{errorCode, message, errors: [{errorCode, message, parameterName?...}]}` and OAuth token
 * errors `{error, error_description, errors: [...]}` (reference/ringcentral/docs/docs_basics_errors.md,
 * code-samples_basics_sample-error.json; schemas ApiErrorResponseModel and OauthInvalidRequest in
 * extract-spec-schemas.yml). Clients should branch on the error code, not the message; when `errors[0]`
 * carries one it wins over the top-level `errorCode`, which for token failures is a legacy name
 * (`TokenExpired`, `TokenInvalid`).
 *
 * Codes used here (docs_basics_errors.md): 429 CMN-301/302/303/304/310 rate limits; 404 CMN-102 resource not
 * found (also a recording not ready yet, csn-events-notes.md); 416 CMN-107; 403 CMN-401/402/403/404/408 and
 * `InsufficientPermissions` missing permission; 401 OAU-128 access token expired; OAU-1xx authentication.
 */
import { RecpullError } from '../../core/errors.js';
import { type HttpResponse, header, readText } from '../../core/http.js';
import { redact } from '../../core/redact.js';
import { errorForStatus } from '../../core/request-policy.js';
import { parseRetryAfter } from '../../core/retry-timing.js';

/** The useful part of an error body. */
export interface RcErrorInfo {
  /** `errors[0].errorCode`, else the top-level `errorCode`, else the OAuth `error`. */
  errorCode?: string;
  /** The matching message (`errors[0].message`, `message` or `error_description`). */
  message?: string;
  parameterName?: string;
  /** The top-level `errorCode` (e.g. `TokenExpired`), when it differs. */
  legacyCode?: string;
}

interface ErrorBody {
  errorCode?: unknown;
  message?: unknown;
  error?: unknown;
  error_description?: unknown;
  errors?: { errorCode?: unknown; message?: unknown; parameterName?: unknown }[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Reads the code and message from an error body (any shape; unreadable → empty). */
export function parseErrorBody(text: string): RcErrorInfo {
  let body: ErrorBody;
  try {
    body = JSON.parse(text) as ErrorBody;
  } catch {
    return {};
  }
  if (body === null || typeof body !== 'object') return {};
  const first = Array.isArray(body.errors) ? body.errors[0] : undefined;
  const top = str(body.errorCode);
  const code = str(first?.errorCode) ?? top ?? str(body.error);
  const info: RcErrorInfo = {};
  if (code) info.errorCode = code;
  const message = str(first?.message) ?? str(body.message) ?? str(body.error_description);
  if (message) info.message = message;
  const parameterName = str(first?.parameterName);
  if (parameterName) info.parameterName = parameterName;
  if (top && top !== code) info.legacyCode = top;
  return info;
}

/** Reads (at most 64 KiB of) an error response's body. */
export async function readError(res: HttpResponse): Promise<RcErrorInfo> {
  return parseErrorBody(await readText(res, 64 * 1024).catch(() => ''));
}

/** Whether a 401 says the access token expired (OAU-128, legacy `TokenExpired`). */
export function isExpiredToken(info: RcErrorInfo): boolean {
  return (
    info.errorCode === 'OAU-128' || info.legacyCode === 'TokenExpired' || info.errorCode === 'TokenExpired'
  );
}

/** `CODE message` as shown in recpull's messages, secrets redacted. */
export function describe(info: RcErrorInfo): string {
  return redact([info.errorCode, info.message].filter(Boolean).join(' ') || 'no error details');
}

/** `Retry-After` in ms, if the response has a usable one. */
export function retryAfterOf(res: HttpResponse): number | undefined {
  return parseRetryAfter(header(res, 'retry-after'));
}

/**
 * The RecpullError for an unexpected RingCentral answer to `what` (a request name without secrets):
 * 401 → `E_AUTH`; 403 → `E_PERMISSION` (fatal, exit 3); 404 → `E_NOT_FOUND` (callers turn CMN-102 into
 * `E_NOT_READY` where it means "not yet"); 429 → retryable `E_RATE_LIMIT` with Retry-After;
 * 408/5xx → retryable `E_HTTP`; other statuses → `E_HTTP`. RingCentral's code is the `vendorCode`.
 */
export function rcStatusError(res: HttpResponse, info: RcErrorInfo, what: string): RecpullError {
  const retryAfterMs = res.statusCode === 429 ? retryAfterOf(res) : undefined;
  return errorForStatus(res.statusCode, `${what}: HTTP ${res.statusCode} ${describe(info)}`, {
    ...(info.errorCode ? { vendorCode: info.errorCode } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
