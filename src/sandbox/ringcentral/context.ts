/**
 * State shared by the RingCentral emulator's handlers, and the checks every API request goes through:
 * Bearer token, then the usage plan group's rate limit, then the app's permission
 * (x-app-permission of each operation in reference/ringcentral/extract-spec-calllog-recording.yml).
 */
import type http from 'node:http';
import type { FaultInjector } from '../faults.js';
import type { LoggedRequest } from '../server.js';
import type { RcCall, RcExtension } from './calls.js';
import { type RcError, rcErrors, sendError } from './errors.js';
import type { RateLimitGroup } from './rate-limit.js';
import { bearerOf, type TokenStore } from './tokens.js';

/** The usage plan groups the emulated operations belong to. */
export type RcGroupName = 'heavy' | 'auth';

/** A logged request, with the usage plan group it was counted in. */
export interface RcLoggedRequest extends LoggedRequest {
  group?: RcGroupName;
  /** True when the rate limiter answered 429. */
  limited?: boolean;
}

/** Counters tests read. */
export interface RcStats {
  /** Every 429 sent (limiter and injected faults). */
  tooManySent: number;
  tokenRequests: number;
  tokenInFlight: number;
  maxConcurrentTokenRequests: number;
  /** 404s sent for recordings that exist but are not ready yet. */
  notReadySent: number;
  /** Media requests authorised by an `access_token` query parameter. */
  queryTokenUses: number;
}

/** Everything a handler needs. */
export interface RcContext {
  accountId: string;
  platformUrl: string;
  mediaUrl: string;
  seed: number;
  clientId: string;
  clientSecret: string;
  jwt: string;
  tokenDelayMs: number;
  scopes: Set<string>;
  admin: boolean;
  allowQueryToken: boolean;
  extensions: RcExtension[];
  owner: RcExtension;
  calls: RcCall[];
  tokens: TokenStore;
  groups: Record<RcGroupName, RateLimitGroup>;
  faults: FaultInjector;
  stats: RcStats;
  now: () => number;
}

/** One request as the emulator's handlers see it: the shared state, the exchange, its log line and URL. */
export interface RcExchange {
  ctx: RcContext;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  entry: RcLoggedRequest;
  url: URL;
}

/** Sends an error and counts 429s. */
export function fail(
  ctx: RcContext,
  res: http.ServerResponse,
  e: RcError,
  headers: http.OutgoingHttpHeaders = {},
) {
  if (e.status === 429) ctx.stats.tooManySent++;
  sendError(res, e, headers);
}

/**
 * Authenticates an API request, counts it in `group` and checks `permission`. On failure the error is sent and
 * undefined returned; on success, the owner extension and the rate-limit headers to add to the answer.
 */
export function guard(
  ctx: RcContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  entry: RcLoggedRequest,
  query: URLSearchParams,
  group: RcGroupName,
  permission: string,
  opts: { media?: boolean } = {},
): { owner: RcExtension; headers: http.OutgoingHttpHeaders } | undefined {
  const bearer = bearerOf(req, query, !!opts.media && ctx.allowQueryToken);
  if (bearer === 'missing') return void fail(ctx, res, rcErrors.noAuthorization());
  if (bearer === 'malformed') return void fail(ctx, res, rcErrors.badAuthorization());
  if (bearer.via === 'query') {
    ctx.stats.queryTokenUses++;
    entry.auth = 'access_token';
  }
  const v = ctx.tokens.verify(bearer.token);
  if ('problem' in v) {
    const e =
      v.problem === 'expired'
        ? rcErrors.tokenExpired()
        : v.problem === 'notFound'
          ? rcErrors.tokenNotFound()
          : rcErrors.tokenCorrupted();
    return void fail(ctx, res, e);
  }
  const owner = ctx.extensions.find((x) => x.id === v.ownerId) ?? ctx.owner;
  entry.group = group;
  const decision = ctx.groups[group].take();
  if (!decision.ok) {
    entry.limited = true;
    return void fail(ctx, res, rcErrors.rateExceeded(), decision.headers);
  }
  if (!ctx.scopes.has(permission))
    return void fail(ctx, res, rcErrors.appPermission(permission), decision.headers);
  return { owner, headers: decision.headers };
}

/** Whether `value` names the sandbox account (`~` or its id). */
export function isOwnAccount(ctx: RcContext, value: string): boolean {
  return value === '~' || value === ctx.accountId;
}
