/**
 * A loopback emulator of the Noojee Recorder interfaces recpull uses: the Recording API 2.7.14 Axis
 * service (start, stop, retrieve, retrieveByUniqueId over HTTP GET; ./services.ts) and the REST hour
 * listing (./listing.ts), with optional HTTP Basic in front of the Axis service (`401 WWW-Authenticate:
 * Basic realm="AXIS"`), recordings in the three body styles (./recordings.ts, ./soap.ts), injectable body
 * faults (src/sandbox/faults.ts) and hostile bodies (an invalid base64 character, bad padding).
 *
 * Sources: seeds/noojee-recording-api-2.7.14.txt, noojee/noojee-notes.md, noojee/axis-soap-over-get.md.
 * Imports nothing from `src/vendors`. The request log never holds the apiKey (replaced by `***` as the
 * request arrives) nor an Authorization value (the shared server logs its scheme only).
 */
import { verifyBasic } from '../http-auth-server.js';
import { contentOf as wavOf } from '../catalogue.js';
import { FaultInjector, type FaultPlan } from '../faults.js';
import { type LoggedRequest, type LoopbackServer, startServer } from '../server.js';
import {
  type NoojeeContext,
  type NoojeeExchange,
  type NoojeeLoggedRequest,
  type NoojeeStats,
  sendFault,
} from './context.js';
import { handleListing, LISTING_PATH } from './listing.js';
import {
  type NoojeeBodyStyle,
  type NoojeeRecording,
  type NoojeeRecordingSpec,
  makeRecordings,
  recording,
} from './recordings.js';
import { handleService, SERVICE_PATH } from './services.js';

export { formatNoojeeTime, LISTING_GRACE_MS, LISTING_PATH } from './listing.js';
export { encodedBody, encodedLength, endOf, WRAP_COLUMNS } from './recordings.js';
export { resolveExten, SERVICE_PATH } from './services.js';
export type { NoojeeBodyStyle, NoojeeLoggedRequest, NoojeeRecording, NoojeeRecordingSpec, NoojeeStats };

/** Options of {@link startNoojeeSandbox}; every one has a default. Times epoch ms, sizes bytes. */
export interface NoojeeSandboxOptions {
  seed?: number;
  /** Generated legs, spread over [from, to] (default 12). */
  recordings?: number;
  /** Explicit legs besides the generated ones (tags with `&`, huge sizes, states, hostile bodies). */
  specs?: NoojeeRecordingSpec[];
  /** Range of the generated legs' ends. Default: the 3 hours ending 10 minutes before the start. */
  from?: Date;
  to?: Date;
  /** The PBX's zone (default `Australia/Sydney`, the notes' AEST). */
  tz?: string;
  /** The user owning the recordings (default `fred`) and other known users. */
  username?: string;
  users?: string[];
  /** The REST apiKey (default a GUID like the notes' example). */
  apiKey?: string;
  /** HTTP Basic credentials required by the Axis service (`all`: by the listing too). Default: none. */
  basicAuth?: { user: string; password: string; scope?: 'services' | 'all' };
  /** Body styles of generated legs, taken in turn (default all three). */
  styles?: NoojeeBodyStyle[];
  /** Share of generated legs with base64 wrapped at 76 columns (default 0.5). */
  wrapRatio?: number;
  minBytes?: number;
  maxBytes?: number;
  /** The listing's limit: `limit` requests per `windowMs` (default 1 per 60 000 ms). */
  listing?: { limit?: number; windowMs?: number };
  /** Faults of retrieve bodies, counted per uniqueId. */
  faults?: FaultPlan;
  tls?: boolean;
  /** Port to listen on (`recpull sandbox --port`); default a free one. */
  port?: number;
}

/** A running Noojee emulator. */
export interface NoojeeSandbox {
  /** Base URL, e.g. `http://127.0.0.1:40123` (the client appends `/servicemanager/...`). */
  url: string;
  username: string;
  httpUser?: string;
  httpPassword?: string;
  apiKey: string;
  tz: string;
  /** Every leg, generated then specs then those `start` created (live: states change with start/stop). */
  catalogue: NoojeeRecording[];
  /** Requests in arrival order; the apiKey is `***`. */
  log: NoojeeLoggedRequest[];
  stats: NoojeeStats;
  /** The WAV bytes a leg decodes to (built in memory: for small test recordings only). */
  contentOf(rec: NoojeeRecording | string): Buffer;
  /** Replaces the body fault plan (and its counters). */
  setFaults(plan: FaultPlan): void;
  close(): Promise<void>;
}

/** Starts the emulator on 127.0.0.1 (a free port). */
export async function startNoojeeSandbox(opts: NoojeeSandboxOptions = {}): Promise<NoojeeSandbox> {
  const seed = opts.seed ?? 1;
  const username = opts.username ?? 'fred';
  const users = [username, ...(opts.users ?? ['wilma'])];
  const t0 = Date.now();
  const to = (opts.to ?? new Date(t0 - 10 * 60_000)).getTime();
  const from = (opts.from ?? new Date(to - 3 * 3_600_000)).getTime();
  const recordings = makeRecordings({
    seed,
    count: opts.recordings ?? 12,
    from,
    to,
    users,
    styles: opts.styles ?? ['axis1', 'axis2', 'bare'],
    minBytes: opts.minBytes ?? 16_000,
    maxBytes: opts.maxBytes ?? 64_000,
    wrapRatio: opts.wrapRatio ?? 0.5,
  });
  for (const spec of opts.specs ?? []) recordings.push(recording(spec, seed, username));
  const ctx: NoojeeContext = {
    seed,
    tz: opts.tz ?? 'Australia/Sydney',
    users: new Set([...users, ...recordings.map((r) => r.username)]),
    defaultUser: username,
    apiKey: opts.apiKey ?? 'f863246a-973e-11e6-8784-08002718f5b5',
    basic: opts.basicAuth ? { user: opts.basicAuth.user, password: opts.basicAuth.password } : undefined,
    basicScope: opts.basicAuth?.scope ?? 'services',
    recordings,
    listing: { limit: opts.listing?.limit ?? 1, windowMs: opts.listing?.windowMs ?? 60_000 },
    listingTimes: [],
    faults: new FaultInjector(opts.faults ?? {}),
    stats: { rateLimitViolations: 0, tooEarlyListings: 0, inProgressRefusals: 0 },
    now: () => Date.now(),
    minted: 0,
  };
  const log: NoojeeLoggedRequest[] = [];
  const server: LoopbackServer = await startServer(
    'noojee',
    async (req, res, entry: LoggedRequest) => {
      const e = entry as NoojeeLoggedRequest;
      if ('apiKey' in e.query) e.query.apiKey = '***';
      const url = new URL(req.url ?? '/', 'http://x');
      const x: NoojeeExchange = { ctx, req, res, entry: e, url };
      const isService = url.pathname === SERVICE_PATH;
      const isListing = url.pathname === LISTING_PATH;
      if (ctx.basic && (isService || (isListing && ctx.basicScope === 'all'))) {
        if (!verifyBasic(req.headers.authorization, ctx.basic.user, ctx.basic.password)) {
          // Axis 1: a fault whose faultcode starts with Server.Unauth becomes a 401 with this challenge.
          return sendFault(x, `User '${basicUser(req.headers.authorization)}' not authenticated`, {
            faultcode: 'Server.Unauthenticated',
            status: 401,
            headers: { 'www-authenticate': 'Basic realm="AXIS"' },
          });
        }
      }
      if (isService && req.method === 'GET') return handleService(x);
      if (isListing) return handleListing(x);
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<html><body><h1>404 Not Found</h1></body></html>');
    },
    log,
    { ...(opts.tls ? { tls: true } : {}), ...(opts.port ? { port: opts.port } : {}) },
  );
  return {
    url: server.url,
    username,
    ...(opts.basicAuth ? { httpUser: opts.basicAuth.user, httpPassword: opts.basicAuth.password } : {}),
    apiKey: ctx.apiKey,
    tz: ctx.tz,
    catalogue: recordings,
    log,
    stats: ctx.stats,
    contentOf(rec) {
      const r = typeof rec === 'string' ? recordings.find((x) => x.uniqueId === rec || x.tag === rec) : rec;
      if (!r) throw new Error(`no recording ${String(rec)}`);
      return wavOf({ id: r.uniqueId, format: 'wav', bytes: r.bytes }, seed);
    },
    setFaults(plan) {
      ctx.faults = new FaultInjector(plan);
    },
    close: () => server.close(),
  };
}

/** The user name of a Basic header (for the fault text; never the password). */
function basicUser(header: string | undefined): string {
  const m = /^\s*basic\s+(\S+)/i.exec(header ?? '');
  if (!m) return '';
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  return decoded.slice(0, Math.max(0, decoded.indexOf(':')));
}
