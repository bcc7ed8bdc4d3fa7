/**
 * `POST /restapi/oauth/token` and `POST /restapi/oauth/revoke` (Auth usage plan group) of the RingCentral
 * emulator. Error codes: missing client authentication → 401 `invalid_client` OAU-123 (as RingCentral answers
 * in ringcentral/ringcentral-api-docs PR #33); wrong client id/secret → 401 `invalid_client` OAU-146 "Invalid
 * client credentials" and a wrong JWT → 400 `invalid_grant` OAU-140 "Invalid resource owner credentials"
 * (codes from reference/ringcentral/docs/docs_basics_errors.md; the 400 for a bad grant follows RFC 6749 and
 * the "OAuth token errors" section there); an unusable refresh token → 400 `invalid_grant` OAU-213.
 */
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { readBody, sendJson } from '../server.js';
import { fail, type RcContext, type RcExchange, type RcLoggedRequest } from './context.js';
import { type OAuthError, rcErrors, sendOAuthError } from './errors.js';
import { parseBasic } from './tokens.js';

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

type ClientCheck = { ok: true; headers: http.OutgoingHttpHeaders } | { ok: false };

/** Rate limit (Auth group), form content type and client credentials, common to token and revoke. */
async function admit(
  ctx: RcContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  entry: RcLoggedRequest,
): Promise<ClientCheck & { form?: URLSearchParams }> {
  entry.group = 'auth';
  const decision = ctx.groups.auth.take();
  const body = await readBody(req);
  if (!decision.ok) {
    entry.limited = true;
    fail(ctx, res, rcErrors.rateExceeded(), decision.headers);
    return { ok: false };
  }
  const headers = decision.headers;
  if (ctx.tokenDelayMs > 0) await sleep(ctx.tokenDelayMs);
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (body.length > 0 && type !== 'application/x-www-form-urlencoded') {
    sendOAuthError(
      res,
      { status: 415, error: 'invalid_request', errorCode: 'CMN-104', message: 'Cannot parse request' },
      headers,
    );
    return { ok: false };
  }
  const client = parseBasic(req.headers.authorization);
  let err: OAuthError | undefined;
  if (client === 'missing')
    err = {
      status: 401,
      error: 'invalid_client',
      errorCode: 'OAU-123',
      message: 'Client authentication is required',
    };
  else if (client === 'malformed' || client.id !== ctx.clientId || client.secret !== ctx.clientSecret)
    err = {
      status: 401,
      error: 'invalid_client',
      errorCode: 'OAU-146',
      message: 'Invalid client credentials',
    };
  if (err) {
    sendOAuthError(res, err, headers);
    return { ok: false };
  }
  return { ok: true, headers, form: new URLSearchParams(body) };
}

/** `POST /restapi/oauth/token`: JWT bearer grant and refresh grant; tracks concurrent requests. */
export async function handleToken(x: RcExchange): Promise<void> {
  const { ctx, req, res, entry } = x;
  ctx.stats.tokenRequests++;
  ctx.stats.tokenInFlight++;
  ctx.stats.maxConcurrentTokenRequests = Math.max(
    ctx.stats.maxConcurrentTokenRequests,
    ctx.stats.tokenInFlight,
  );
  try {
    const a = await admit(ctx, req, res, entry);
    if (!a.ok || !a.form) return;
    const form = a.form;
    const grant = form.get('grant_type');
    const noStore = { 'cache-control': 'no-store', pragma: 'no-cache', ...a.headers };
    if (grant === JWT_GRANT) {
      const assertion = form.get('assertion');
      if (!assertion) {
        return sendOAuthError(
          res,
          {
            status: 400,
            error: 'invalid_request',
            errorCode: 'CMN-101',
            message: 'Parameter [assertion] value is invalid.',
            parameterName: 'assertion',
          },
          a.headers,
        );
      }
      if (assertion !== ctx.jwt) {
        return sendOAuthError(
          res,
          {
            status: 400,
            error: 'invalid_grant',
            errorCode: 'OAU-140',
            message: 'Invalid resource owner credentials',
          },
          a.headers,
        );
      }
      return sendJson(res, 200, ctx.tokens.login(ctx.owner.id), noStore);
    }
    if (grant === 'refresh_token') {
      const info = ctx.tokens.refreshWith(form.get('refresh_token') ?? '');
      if (!info) {
        return sendOAuthError(
          res,
          { status: 400, error: 'invalid_grant', errorCode: 'OAU-213', message: 'Token not found' },
          a.headers,
        );
      }
      return sendJson(res, 200, info, noStore);
    }
    sendOAuthError(
      res,
      {
        status: 400,
        error: 'unsupported_grant_type',
        errorCode: 'OAU-112',
        message: `The client is unauthorized for the required grant type: [${grant ?? ''}]`,
        parameterName: 'grant_type',
      },
      a.headers,
    );
  } finally {
    ctx.stats.tokenInFlight--;
  }
}

/** `POST /restapi/oauth/revoke`: ends the session of `token` (body or query); 200 even for unknown tokens. */
export async function handleRevoke(x: RcExchange): Promise<void> {
  const { ctx, req, res, entry } = x;
  const query = x.url.searchParams;
  const a = await admit(ctx, req, res, entry);
  if (!a.ok || !a.form) return;
  const token = a.form.get('token') ?? query.get('token');
  if (token) ctx.tokens.revoke(token);
  res.writeHead(200, { 'content-length': 0, ...a.headers });
  res.end();
}
