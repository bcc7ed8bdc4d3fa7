/**
 * The CC-Gateway emulator's HTTP handlers: sign-in, forcelogin, logout, saybusy / rest / sayfree, agent
 * status, the event long poll and recordfile. Every answer is `{retcode, message, result}` JSON with
 * HTTP 200, errors included, as real gateways send it (seed huawei-cc-gateway-download-recordings.txt
 * "Response Description"; success body shape from agentgateway-notes.md, devg cec_05_4023).
 *
 * Paths and methods (agentgateway-notes.md): `PUT /agentgateway/resource/onlineagent/{agentid}` sign-in,
 * `PUT .../{agentid}/forcelogin`, `DELETE .../{agentid}/logout`, `GET /agentgateway/resource/agentevent/{agentid}`,
 * `GET /agentgateway/resource/recordfile/{agentid}?recordId=..&filetype=..[&locationId=..]`. Where the
 * references leave a choice open, every reading a real server might take is accepted: saybusy, sayfree
 * and rest by POST or PUT, the `Guid` header with or without `JSESSIONID=`.
 */
import type http from 'node:http';
import type { FaultInjector, FaultPlan } from '../faults.js';
import { type LoggedRequest, readBody, sendBody, sendJson } from '../server.js';
import type { AgentState, GuidVerdict } from './agent.js';
import { type CcRecording, recordingBytes } from './records.js';

/** A request as the emulator logs it: never a GUID, password or cookie value, only what they were. */
export interface CcLoggedRequest extends LoggedRequest {
  /** The operation (`signin`, `forcelogin`, `logout`, `saybusy`, `rest`, `sayfree`, `status`, `poll`, `recordfile`, `unknown`). */
  op: string;
  /** What the `Guid` header was; see {@link GuidVerdict}. */
  guid: GuidVerdict;
  /** Generation of the GUID sent (1 = the first GUID issued), when it is one the emulator issued. */
  guidGen?: number;
  /** Generation of the newest GUID issued when the request arrived. */
  newestGen: number;
  /** Whether the request carried the load balancer cookie the emulator set. */
  cookie: boolean;
  /** Generation of the GUID this answer handed out in `Set-GUID`, if any. */
  setGuidGen?: number;
  /** The retcode answered (`0` success); absent for a recording body. */
  retcode?: string;
  /** For sign-in: the JSON body's fields except the password, and whether the password matched. */
  signIn?: Record<string, unknown> & { passwordOk: boolean };
}

/** Mutable settings tests may change while the emulator runs (`setOption`). Times in ms. */
export interface CcMutableOptions {
  password: string;
  phoneNumber: string;
  /** Sign-in answers `110-016` (account locked). */
  locked: boolean;
  /** `false`: recordfile answers `104-001` (download not enabled). */
  downloadEnabled: boolean;
  /** Node ids (`locationId`) configured; another one is `104-010`. */
  nodes: string[];
  /** Recordfile answers this retcode for these record ids (e.g. `000-003` for one file). */
  recordErrors: Record<string, string>;
  /** How long an event poll is held when nothing happens (the real gateway: about 10 000). */
  pollHoldMs: number;
  faults: FaultPlan;
  /** Logout answers after this long (a slow sign-out, for "a second Ctrl-C exits at once"); default 0. */
  logoutDelayMs: number;
}

/** What the handlers share. */
export interface CcContext {
  agentId: string;
  seed: number;
  agent: AgentState;
  opts: CcMutableOptions;
  faults: FaultInjector;
  byId: Map<string, CcRecording>;
  /** Name and value of the load balancer cookie set on sign-in. */
  cookie: { name: string; value: string };
}

/** Messages of the retcodes the emulator answers (reference/huawei/agentgateway-retcodes.tsv; 104-xxx: issue 8). */
const MESSAGES: Record<string, string> = {
  '0': '',
  '000-002': 'The parameters transmitted using the URL are incorrect',
  '000-003': 'no right to invite resource',
  '100-001': 'The login parameters are null or set incorrectly',
  '100-002': 'The agent has logged in',
  '100-004': 'The agent enters an incorrect user name or password during login',
  '100-006': 'The agent has not logged in',
  '100-012': 'The agent type used for login is invalid',
  '100-013': 'The agent phone number to be bound is invalid',
  '104-001': 'The recording download function is not enabled',
  '104-005': 'The recording file does not exist',
  '104-010': 'The node is not configured',
  '110-016': 'The account is locked',
};

const PREFIX = '/agentgateway/resource/';

/** Routes one request. */
export async function route(
  ctx: CcContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  entry: CcLoggedRequest,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.startsWith(PREFIX) ? url.pathname.slice(PREFIX.length).split('/') : [];
  const [resource, agentId, action] = parts.map((p) => decodeURIComponent(p));
  const method = req.method ?? 'GET';
  entry.cookie = (req.headers.cookie ?? '').includes(`${ctx.cookie.name}=${ctx.cookie.value}`);
  const check = ctx.agent.check(headerOf(req, 'guid'));
  entry.guid = check.verdict;
  if (check.gen !== undefined) entry.guidGen = check.gen;
  entry.newestGen = ctx.agent.newestGen;
  const answer = (retcode: string, result: unknown = {}, headers: http.OutgoingHttpHeaders = {}) => {
    entry.retcode = retcode;
    sendJson(res, 200, { retcode, message: MESSAGES[retcode] ?? '', result }, headers);
  };
  const known = agentId === ctx.agentId;
  if (resource === 'onlineagent' && parts.length === 2 && method === 'PUT') {
    entry.op = 'signin';
    return signIn(ctx, req, entry, known, false, answer);
  }
  if (resource === 'onlineagent' && action === 'forcelogin' && method === 'PUT') {
    entry.op = 'forcelogin';
    return signIn(ctx, req, entry, known, true, answer);
  }
  const op =
    resource === 'onlineagent' && parts.length >= 3
      ? ({ logout: 'logout', saybusy: 'saybusy', sayfree: 'sayfree', rest: 'rest', agentstatus: 'status' }[
          action ?? ''
        ] ?? 'unknown')
      : resource === 'agentevent' && parts.length === 2
        ? 'poll'
        : resource === 'recordfile' && parts.length === 2
          ? 'recordfile'
          : 'unknown';
  entry.op = op;
  if (op === 'unknown' || !known) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not Found');
    return;
  }
  if (check.refuse) return answer(check.refuse, '');
  switch (op) {
    case 'logout':
      if (method !== 'DELETE') return answer('000-002', '');
      if (ctx.opts.logoutDelayMs > 0) await new Promise((r) => setTimeout(r, ctx.opts.logoutDelayMs));
      ctx.agent.signOut('logout');
      return answer('0');
    case 'saybusy':
    case 'sayfree':
    case 'rest':
      if (method !== 'POST' && method !== 'PUT') return answer('000-002', '');
      ctx.agent.status = op === 'saybusy' ? 3 : op === 'rest' ? 7 : 4;
      return answer('0');
    case 'status':
      return answer('0', { agentState: ctx.agent.status });
    case 'poll':
      return poll(ctx, req, res, entry, answer);
    default:
      return recordFile(ctx, url, res, entry, answer);
  }
}

type Answer = (retcode: string, result?: unknown, headers?: http.OutgoingHttpHeaders) => void;

async function signIn(
  ctx: CcContext,
  req: http.IncomingMessage,
  entry: CcLoggedRequest,
  knownAgent: boolean,
  force: boolean,
  answer: Answer,
): Promise<void> {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(await readBody(req)) as Record<string, unknown>;
  } catch {
    return answer('100-001', '');
  }
  const { password, ...rest } = body;
  const passwordOk = knownAgent && password === ctx.opts.password;
  entry.signIn = { ...rest, passwordOk };
  if (typeof password !== 'string' || typeof body.phonenum !== 'string' || body.phonenum === '') {
    return answer('100-001', '');
  }
  if (ctx.opts.locked) return answer('110-016', '');
  if (!passwordOk) return answer('100-004', '');
  if (!/^\d+$/.test(body.phonenum) || body.phonenum !== ctx.opts.phoneNumber) return answer('100-013', '');
  if (body.agenttype !== undefined && ![4, 11, '4', '11'].includes(body.agenttype as number)) {
    return answer('100-012', '');
  }
  if (ctx.agent.signedIn && !force) return answer('100-002', '');
  const guid = ctx.agent.signIn();
  const status = Number(body.status);
  if (status === 4 || status === 5) ctx.agent.status = status;
  entry.setGuidGen = ctx.agent.newestGen;
  return answer(
    '0',
    { workno: ctx.agentId, mediatype: 'TTT' },
    {
      'set-guid': `JSESSIONID=${guid}`,
      'set-cookie': `${ctx.cookie.name}=${ctx.cookie.value}; Path=/; HttpOnly; Secure`,
    },
  );
}

/** The long poll: held up to `pollHoldMs` (less when the GUID is due for rotation, or on sign-out). */
async function poll(
  ctx: CcContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  entry: CcLoggedRequest,
  answer: Answer,
): Promise<void> {
  const end = ctx.agent.pollStarted();
  res.once('close', end);
  try {
    await ctx.agent.hold(Math.min(ctx.opts.pollHoldMs, ctx.agent.msUntilRotation()));
  } finally {
    end();
  }
  if (res.destroyed || req.destroyed) return;
  if (!ctx.agent.signedIn) return answer('100-006', '');
  const guid = ctx.agent.rotateIfDue();
  if (guid) entry.setGuidGen = ctx.agent.newestGen;
  return answer('0', undefined, guid ? { 'set-guid': `JSESSIONID=${guid}` } : {});
}

async function recordFile(
  ctx: CcContext,
  url: URL,
  res: http.ServerResponse,
  entry: CcLoggedRequest,
  answer: Answer,
): Promise<void> {
  const recordId = url.searchParams.get('recordId') ?? '';
  const filetype = url.searchParams.get('filetype') ?? '1';
  const locationId = url.searchParams.get('locationId');
  if (
    recordId === '' ||
    !['1', '2'].includes(filetype) ||
    (locationId !== null && !/^\d+$/.test(locationId))
  ) {
    return answer('000-002', '');
  }
  if (!ctx.opts.downloadEnabled) return answer('104-001', '');
  if (locationId !== null && !ctx.opts.nodes.includes(locationId)) return answer('104-010', '');
  const injected = ctx.opts.recordErrors[recordId];
  if (injected) return answer(injected, '');
  const rec = ctx.byId.get(recordId.replace(/\\/g, '/').toUpperCase());
  if (!rec || rec.locationId !== (locationId ?? '0') || rec.filetype !== filetype)
    return answer('104-005', '');
  const fault = ctx.faults.next(rec.recordId);
  if (fault) entry.fault = fault;
  if (fault === 'serverError' || fault === 'tooMany') {
    res.writeHead(fault === 'tooMany' ? 429 : (ctx.opts.faults.serverError?.status ?? 500), {
      'content-type': 'text/html',
    });
    res.end('<html><body>Service Unavailable</body></html>');
    return;
  }
  await sendBody(
    res,
    recordingBytes(rec, ctx.seed),
    'application/octet-stream;charset=utf-8',
    ctx.opts.faults,
    fault,
  );
}

function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
