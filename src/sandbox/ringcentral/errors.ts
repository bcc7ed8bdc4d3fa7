/**
 * RingCentral error bodies, as the emulator sends them.
 *
 * REST errors: `{errorCode, message, errors: [{errorCode, message, parameterName?, parameterValue?}]}`; the
 * `errors` array is the documented part (reference/ringcentral/docs/code-samples_basics_sample-error.json,
 * schemas ApiErrorResponseModel / ParameterizedErrorResponseModel in rc-public-openapi.yml). The top-level
 * `errorCode` repeats the first error's code, except for token failures, where it carries the legacy name
 * (`TokenExpired` / `TokenInvalid`) and `errors[0].errorCode` the OAU code.
 *
 * OAuth token endpoint errors: `{error, error_description, errors: [...]}` (responses.OauthInvalidRequest in
 * reference/ringcentral/extract-spec-schemas.yml; the `error_description` field as RingCentral sends it in
 * ringcentral/ringcentral-api-docs PR #33).
 */
import type http from 'node:http';
import { sendJson } from '../server.js';

/** One error the emulator can answer with. `legacyCode` replaces the top-level `errorCode` when set. */
export interface RcError {
  status: number;
  errorCode: string;
  message: string;
  parameterName?: string;
  parameterValue?: string;
  legacyCode?: string;
}

/**
 * The error codes used by the emulator. Codes and messages from reference/ringcentral/docs/docs_basics_errors.md
 * unless noted: AGW-401 / AGW-402 / OAU-213 appear in the per-operation error tables of RingCentral's API
 * reference (not in the local extracts).
 */
export const rcErrors = {
  /** 429 CMN-301, docs_basics_errors.md "Rate-limit related error codes". */
  rateExceeded: (): RcError => ({ status: 429, errorCode: 'CMN-301', message: 'Request rate exceeded' }),
  /** 400 CMN-101. */
  invalidParameter: (name: string, value?: string): RcError => ({
    status: 400,
    errorCode: 'CMN-101',
    message: `Parameter [${name}] value is invalid.`,
    parameterName: name,
    ...(value !== undefined ? { parameterValue: value } : {}),
  }),
  /** 404 CMN-102: unknown resource, and also a recording that is not ready yet (csn-events-notes.md). */
  notFound: (name: string): RcError => ({
    status: 404,
    errorCode: 'CMN-102',
    message: `Resource for parameter [${name}] is not found`,
    parameterName: name,
  }),
  /** 416 CMN-107. */
  rangeNotSatisfiable: (): RcError => ({
    status: 416,
    errorCode: 'CMN-107',
    message: 'Requested Range Not Satisfiable',
  }),
  /** 404 CMN-120. */
  invalidUri: (): RcError => ({ status: 404, errorCode: 'CMN-120', message: 'Invalid URI' }),
  /** 5xx CMN-201. */
  unavailable: (status = 503): RcError => ({
    status,
    errorCode: 'CMN-201',
    message: 'Service Temporary Unavailable',
  }),
  /** 403 CMN-401: the app lacks a permission (x-app-permission of the operation). */
  appPermission: (permission: string): RcError => ({
    status: 403,
    errorCode: 'CMN-401',
    message: `In order to call this API endpoint, application needs to have [${permission}] permission`,
  }),
  /** 403 CMN-408: the user lacks a permission (x-user-permission of the operation). */
  userPermission: (permission: string): RcError => ({
    status: 403,
    errorCode: 'CMN-408',
    message: `In order to call this API endpoint, user needs to have [${permission}] permission`,
  }),
  /** 403 CMN-404. */
  otherExtension: (): RcError => ({
    status: 403,
    errorCode: 'CMN-404',
    message: 'Attempt to access another extension',
  }),
  /** 400 CLG-110: `sessionId` must be used alone. */
  sessionIdCombined: (other: string): RcError => ({
    status: 400,
    errorCode: 'CLG-110',
    message: `Parameter [sessionId] is not allowed for usage along with parameter [${other}]`,
    parameterName: other,
  }),
  /** 401 AGW-401 (API reference error tables). */
  noAuthorization: (): RcError => ({
    status: 401,
    errorCode: 'AGW-401',
    message: 'Authorization header is not specified',
  }),
  /** 401 AGW-402 (API reference error tables). */
  badAuthorization: (): RcError => ({
    status: 401,
    errorCode: 'AGW-402',
    message: 'Invalid Authorization header',
  }),
  /** 401 OAU-128. */
  tokenExpired: (): RcError => ({
    status: 401,
    errorCode: 'OAU-128',
    message: 'Access token expired',
    legacyCode: 'TokenExpired',
  }),
  /** 401 OAU-129: not a token this server could have issued. */
  tokenCorrupted: (): RcError => ({
    status: 401,
    errorCode: 'OAU-129',
    message: 'Access token corrupted',
    legacyCode: 'TokenInvalid',
  }),
  /** 401 OAU-213 (API reference error tables): well-formed but unknown, revoked or replaced by a refresh. */
  tokenNotFound: (): RcError => ({
    status: 401,
    errorCode: 'OAU-213',
    message: 'Token not found',
    legacyCode: 'TokenInvalid',
  }),
};

/** The JSON body of a REST error. */
export function errorBody(e: RcError): Record<string, unknown> {
  const entry: Record<string, string> = { errorCode: e.errorCode, message: e.message };
  if (e.parameterName !== undefined) entry.parameterName = e.parameterName;
  if (e.parameterValue !== undefined) entry.parameterValue = e.parameterValue;
  return { errorCode: e.legacyCode ?? e.errorCode, message: e.message, errors: [entry] };
}

/** Sends a REST error with its status. 401s carry `WWW-Authenticate: Bearer` (RFC 6750). */
export function sendError(
  res: http.ServerResponse,
  e: RcError,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const extra: http.OutgoingHttpHeaders = { ...headers };
  if (e.status === 401) extra['www-authenticate'] = 'Bearer realm="RingCentral"';
  sendJson(res, e.status, errorBody(e), extra);
}

/** An OAuth token endpoint error (`error` is the RFC 6749 code). */
export interface OAuthError {
  status: number;
  error: string;
  errorCode: string;
  message: string;
  parameterName?: string;
}

/** Sends an OAuth error body `{error, error_description, errors}`. */
export function sendOAuthError(
  res: http.ServerResponse,
  e: OAuthError,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const entry: Record<string, string> = { errorCode: e.errorCode, message: e.message };
  if (e.parameterName !== undefined) entry.parameterName = e.parameterName;
  sendJson(res, e.status, { error: e.error, error_description: e.message, errors: [entry] }, headers);
}
