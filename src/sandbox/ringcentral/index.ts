/**
 * A loopback emulator of the parts of the RingCentral REST API recpull uses: OAuth (JWT bearer grant, refresh,
 * revoke), the company and user call log, recording metadata, and recording content on a second ("media")
 * origin, with RingCentral's usage plan group rate limits (Heavy, Auth) and error bodies, recordings that are
 * not ready right after their call ends, and injectable body faults.
 *
 * Sources: /work/shared/reference/ringcentral (docs/, extract-spec-*.yml, rc-public-openapi.yml,
 * csn-events-notes.md) and seeds/ringcentral-recording-from-call-session-event.txt; each module under
 * `ringcentral/` cites the file its protocol facts come from. Imports nothing from `src/vendors`.
 */
import type http from 'node:http';
import type { FaultPlan } from '../faults.js';
import { FaultInjector } from '../faults.js';
import { handleCallLog } from './call-log.js';
import { CallFactory, makeExtensions, type RcCall, type RcCallSpec } from './calls.js';
import {
  fail,
  type RcContext,
  type RcExchange,
  type RcGroupName,
  type RcLoggedRequest,
  type RcStats,
} from './context.js';
import { rcErrors } from './errors.js';
import { handleRevoke, handleToken } from './oauth.js';
import { type RateLimitConfig, RateLimitGroup } from './rate-limit.js';
import { handleRecordingContent, handleRecordingMetadata, recordingBytes } from './recordings.js';
import { TokenStore } from './tokens.js';
import { type LoopbackServer, startServer } from '../server.js';

export { RateLimitGroup } from './rate-limit.js';
export type { RateLimitConfig, RcCallSpec, RcGroupName, RcLoggedRequest };

/** Options of {@link startRingCentralSandbox}; every one has a default. */
export interface RingCentralSandboxOptions {
  /** Valid app credentials (HTTP Basic on the token endpoint). Defaults `sandbox-client-id` / `sandbox-client-secret`. */
  clientId?: string;
  clientSecret?: string;
  /** The valid JWT credential (`assertion`). Default `sandbox-jwt-credential`. */
  jwt?: string;
  /** Default `400131234008`. */
  accountId?: string;
  /** Extension ids; the first one owns the JWT. Default three ids, extension numbers 101, 102, 103. */
  extensions?: string[];
  /** Number of recorded calls spread over [from, to] (default 30), or explicit calls. */
  recordings?: number | RcCallSpec[];
  /** Extra calls without a recording spread over [from, to] (default 0). */
  unrecordedCalls?: number;
  /** Calls placed relative to the sandbox's start (`endedAgoMs`), e.g. one whose recording is not ready yet. */
  recentCalls?: RcCallSpec[];
  /** Date range of the generated calls. Default: the 3 days ending 10 minutes before the start. */
  from?: Date;
  to?: Date;
  /** Share of MP3 (`audio/mpeg`) recordings, default 0.5; the rest is WAV. */
  mp3Ratio?: number;
  /** Share of WAV recordings labelled with the older `audio/x-wav`, default 0.2. */
  xWavRatio?: number;
  /** Recording sizes in bytes (default 16 000 – 64 000). */
  minBytes?: number;
  maxBytes?: number;
  seed?: number;
  /** Access token lifetime, seconds (default 3600). */
  tokenLifetimeS?: number;
  /** Refresh token lifetime, seconds (default 604 800). */
  refreshTokenLifetimeS?: number;
  /** Time the token endpoint takes, ms (default 50), so that overlapping token requests are seen. */
  tokenDelayMs?: number;
  /** Heavy group (call log, recording metadata, content): default 10 requests / 60 s, 60 s penalty. */
  heavy?: Partial<RateLimitConfig>;
  /** Auth group (token, revoke): default 5 requests / 60 s, 60 s penalty. */
  auth?: Partial<RateLimitConfig>;
  /** A recording is downloadable this long after its call ended; before: 404 CMN-102 (default 1000 ms). */
  notReadyMs?: number;
  /** A call appears in the call log this long after it ended (default 0). */
  callLogDelayMs?: number;
  /** Faults of content requests, keyed by recording id. */
  faults?: FaultPlan;
  /** HTTPS with the sandbox certificate on both origins. */
  tls?: boolean;
  /** Scopes (app permissions) of issued tokens. Default `ReadAccounts ReadCallLog ReadCallRecording`. */
  scope?: string;
  /** Whether the JWT owner may read the company call log and other extensions' logs (default true). */
  admin?: boolean;
  /** Whether the media origin accepts `?access_token=` (documented; default true, counted in `queryTokenUses`). */
  allowQueryToken?: boolean;
}

/** One recording as tests see it. */
export interface RingCentralRecording {
  /** Recording id (`recording.id` in the call log, `recordings[].id` in call-session events). */
  id: string;
  callLogId: string;
  sessionId: string;
  telephonySessionId: string;
  /** Call start and end, ISO 8601. */
  startTime: string;
  endTime: string;
  /** Call duration, seconds. */
  durationS: number;
  /** Recorded duration, seconds (`duration` of the recording metadata). */
  recordingDurationS: number;
  direction: 'Inbound' | 'Outbound';
  from: string;
  to: string;
  extensionId: string;
  extensionNumber: string;
  recordingType: 'Automatic' | 'OnDemand';
  contentType: 'audio/mpeg' | 'audio/wav' | 'audio/x-wav';
  format: 'wav' | 'mp3';
  bytes: number;
  /** Epoch ms from which the content can be downloaded. */
  readyAt: number;
  contentUri: string;
}

/** A running RingCentral emulator. */
export interface RingCentralSandbox {
  /** Platform base URL (token, call log, recording metadata). */
  url: string;
  /** Media base URL (recording content), a second origin. */
  mediaUrl: string;
  accountId: string;
  clientId: string;
  clientSecret: string;
  jwt: string;
  /** Extension id owning the JWT (`owner_id`). */
  ownerExtensionId: string;
  /** Requests to both origins, in arrival order; `access_token` query values are redacted. */
  log: RcLoggedRequest[];
  /** Recorded calls, oldest first as generated (then `recentCalls`, then `addCall`s). */
  catalogue: RingCentralRecording[];
  /** The exact bytes served for a recording. */
  contentOf(recordingId: string): Buffer;
  /** Token pairs issued (JWT and refresh grants). */
  readonly tokensIssued: number;
  /** Requests to the token endpoint. */
  readonly tokenRequests: number;
  /** The most token requests seen in flight at once. */
  readonly maxConcurrentTokenRequests: number;
  /** 429 answers sent (rate limiter and injected faults). */
  readonly rateLimitViolations: number;
  /** 404 answers for recordings that exist but were not ready. */
  readonly notReadySent: number;
  /** Media requests authorised with `?access_token=`. */
  readonly queryTokenUses: number;
  /** The rate-limit groups: `accepted` / `rejected` request times, `violations`, `inPenalty`. */
  groups: Record<RcGroupName, RateLimitGroup>;
  /** Replaces the content fault plan (and its per-recording counters). */
  setFaults(plan: FaultPlan): void;
  /** Puts a group in penalty for `seconds` now (its next requests get 429 and restart the penalty). */
  injectPenalty(group: RcGroupName, seconds: number): void;
  /** Makes every access token issued so far expire now (refresh tokens still work). */
  expireAccessTokens(): void;
  /** Adds a call now; `endedAgoMs` counts back from the moment of the call. Returns its recording, if any. */
  addCall(spec: RcCallSpec): RingCentralRecording | undefined;
  close(): Promise<void>;
}

const DEFAULT_EXTENSIONS = ['1380112004', '1380113004', '1380114004'];

/** Starts the platform and media origins on 127.0.0.1 (free ports). */
export async function startRingCentralSandbox(
  opts: RingCentralSandboxOptions = {},
): Promise<RingCentralSandbox> {
  const t0 = Date.now();
  const now = () => Date.now();
  const seed = opts.seed ?? 1;
  const extensions = makeExtensions(opts.extensions?.length ? opts.extensions : DEFAULT_EXTENSIONS);
  const owner = extensions[0]!;
  const notReadyMs = opts.notReadyMs ?? 1000;
  const factory = new CallFactory({
    seed,
    extensions,
    mp3Ratio: opts.mp3Ratio ?? 0.5,
    xWavRatio: opts.xWavRatio ?? 0.2,
    minBytes: opts.minBytes ?? 16_000,
    maxBytes: opts.maxBytes ?? 64_000,
    notReadyMs,
    callLogDelayMs: opts.callLogDelayMs ?? 0,
    t0,
  });
  const to = (opts.to ?? new Date(t0 - 10 * 60_000)).getTime();
  const from = (opts.from ?? new Date(to - 3 * 24 * 3600_000)).getTime();
  const calls: RcCall[] = [];
  const recs = opts.recordings ?? 30;
  if (typeof recs === 'number') calls.push(...factory.spread(recs, from, to));
  else calls.push(...recs.map((s) => factory.make(s)));
  if (opts.unrecordedCalls) calls.push(...factory.spread(opts.unrecordedCalls, from, to, false));
  for (const s of opts.recentCalls ?? []) calls.push(factory.make(s));
  const ids = new Set<string>();
  for (const c of calls) {
    if (!c.recording) continue;
    if (ids.has(c.recording.id)) throw new Error(`duplicate recording id ${c.recording.id}`);
    ids.add(c.recording.id);
  }

  const heavy = new RateLimitGroup('heavy', { limit: 10, windowS: 60, penaltyS: 60, ...opts.heavy }, now);
  const auth = new RateLimitGroup('auth', { limit: 5, windowS: 60, penaltyS: 60, ...opts.auth }, now);
  const scope = opts.scope ?? 'ReadAccounts ReadCallLog ReadCallRecording';
  const stats: RcStats = {
    tooManySent: 0,
    tokenRequests: 0,
    tokenInFlight: 0,
    maxConcurrentTokenRequests: 0,
    notReadySent: 0,
    queryTokenUses: 0,
  };
  const ctx: RcContext = {
    accountId: opts.accountId ?? '400131234008',
    platformUrl: '',
    mediaUrl: '',
    seed,
    clientId: opts.clientId ?? 'sandbox-client-id',
    clientSecret: opts.clientSecret ?? 'sandbox-client-secret',
    jwt: opts.jwt ?? 'sandbox-jwt-credential',
    tokenDelayMs: opts.tokenDelayMs ?? 50,
    scopes: new Set(scope.split(/\s+/).filter(Boolean)),
    admin: opts.admin ?? true,
    allowQueryToken: opts.allowQueryToken ?? true,
    extensions,
    owner,
    calls,
    tokens: new TokenStore(
      {
        accessLifetimeS: opts.tokenLifetimeS ?? 3600,
        refreshLifetimeS: opts.refreshTokenLifetimeS ?? 604_800,
        scope,
      },
      now,
    ),
    groups: { heavy, auth },
    faults: new FaultInjector(opts.faults ?? {}),
    stats,
    now,
  };

  const log: RcLoggedRequest[] = [];
  const tls = opts.tls ? { tls: true } : {};
  const media = await startServer(
    'ringcentral-media',
    (req, res, entry) => routeMedia(ctx, req, res, entry),
    log,
    tls,
  );
  let platform: LoopbackServer;
  try {
    platform = await startServer(
      'ringcentral',
      (req, res, entry) => routePlatform(ctx, req, res, entry),
      log,
      tls,
    );
  } catch (err) {
    await media.close();
    throw err;
  }
  ctx.platformUrl = platform.url;
  ctx.mediaUrl = media.url;

  const entryOf = (c: RcCall): RingCentralRecording => {
    const r = c.recording!;
    const ext = c.extension;
    const inbound = c.direction === 'Inbound';
    return {
      id: r.id,
      callLogId: c.callLogId,
      sessionId: c.sessionId,
      telephonySessionId: c.telephonySessionId,
      startTime: new Date(c.startMs).toISOString(),
      endTime: new Date(c.endMs).toISOString(),
      durationS: Math.round((c.endMs - c.startMs) / 1000),
      recordingDurationS: r.durationS,
      direction: c.direction,
      from: inbound ? c.externalNumber : ext.phoneNumber,
      to: inbound ? ext.phoneNumber : c.externalNumber,
      extensionId: ext.id,
      extensionNumber: ext.extensionNumber,
      recordingType: r.type,
      contentType: r.contentType,
      format: r.format,
      bytes: r.bytes,
      readyAt: r.readyAt,
      contentUri: `${media.url}/restapi/v1.0/account/${ctx.accountId}/recording/${r.id}/content`,
    };
  };
  const catalogue = calls.filter((c) => c.recording).map(entryOf);

  return {
    url: platform.url,
    mediaUrl: media.url,
    accountId: ctx.accountId,
    clientId: ctx.clientId,
    clientSecret: ctx.clientSecret,
    jwt: ctx.jwt,
    ownerExtensionId: owner.id,
    log,
    catalogue,
    contentOf(recordingId) {
      const call = calls.find((c) => c.recording?.id === recordingId);
      if (!call) throw new Error(`no recording ${recordingId}`);
      return recordingBytes(ctx, call);
    },
    get tokensIssued() {
      return ctx.tokens.issued;
    },
    get tokenRequests() {
      return stats.tokenRequests;
    },
    get maxConcurrentTokenRequests() {
      return stats.maxConcurrentTokenRequests;
    },
    get rateLimitViolations() {
      return stats.tooManySent;
    },
    get notReadySent() {
      return stats.notReadySent;
    },
    get queryTokenUses() {
      return stats.queryTokenUses;
    },
    groups: ctx.groups,
    setFaults(plan) {
      ctx.faults = new FaultInjector(plan);
    },
    injectPenalty(group, seconds) {
      ctx.groups[group].injectPenalty(seconds);
    },
    expireAccessTokens() {
      ctx.tokens.expireAccessTokens();
    },
    addCall(spec) {
      const call = factory.make(spec, now());
      if (call.recording && ids.has(call.recording.id))
        throw new Error(`duplicate recording id ${call.recording.id}`);
      calls.push(call);
      if (!call.recording) return undefined;
      ids.add(call.recording.id);
      const e = entryOf(call);
      catalogue.push(e);
      return e;
    },
    async close() {
      await Promise.all([platform.close(), media.close()]);
    },
  };
}

const ACCOUNT = '/restapi/v1.0/account/([^/]+)';
const CALL_LOG = new RegExp(`^${ACCOUNT}/call-log$`);
const USER_CALL_LOG = new RegExp(`^${ACCOUNT}/extension/([^/]+)/call-log$`);
const RECORDING = new RegExp(`^${ACCOUNT}/recording/([^/]+)$`);
const CONTENT = new RegExp(`^${ACCOUNT}/recording/([^/]+)/content$`);

async function routePlatform(
  ctx: RcContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  entry: RcLoggedRequest,
): Promise<void> {
  redactQueryToken(entry);
  const url = new URL(req.url ?? '/', ctx.platformUrl);
  const x: RcExchange = { ctx, req, res, entry, url };
  const path = decodeURIComponent(url.pathname);
  const method = req.method ?? 'GET';
  if (method === 'POST' && path === '/restapi/oauth/token') return handleToken(x);
  if (method === 'POST' && path === '/restapi/oauth/revoke') return handleRevoke(x);
  if (method === 'GET' || method === 'HEAD') {
    let m = CALL_LOG.exec(path);
    if (m) return handleCallLog(x, m[1]!);
    m = USER_CALL_LOG.exec(path);
    if (m) return handleCallLog(x, m[1]!, m[2]!);
    m = RECORDING.exec(path);
    if (m) return handleRecordingMetadata(x, m[1]!, m[2]!);
  }
  // Includes `.../recording/{id}/content`: it must be fetched from the media origin.
  fail(ctx, res, rcErrors.invalidUri());
}

async function routeMedia(
  ctx: RcContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  entry: RcLoggedRequest,
): Promise<void> {
  redactQueryToken(entry);
  const url = new URL(req.url ?? '/', ctx.mediaUrl);
  const m = CONTENT.exec(decodeURIComponent(url.pathname));
  if (m && (req.method === 'GET' || req.method === 'HEAD')) {
    return handleRecordingContent({ ctx, req, res, entry, url }, m[1]!, m[2]!);
  }
  fail(ctx, res, rcErrors.invalidUri());
}

/** Keeps tokens sent as query parameters out of the request log. */
function redactQueryToken(entry: RcLoggedRequest): void {
  for (const k of ['access_token', 'token']) if (entry.query[k]) entry.query[k] = '[redacted]';
}
