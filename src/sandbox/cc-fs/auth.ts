/**
 * The emulator's side of Huawei auth-v2: computes and checks `Authorization: auth-v2/...` headers.
 * Written separately from src/vendors/cc-fs/auth-v2.ts (the sandbox imports nothing from src/vendors), from the
 * same reference: /work/shared/reference/huawei/ccfs-auth-v2-notes.md and ccfs-auth-v2-vectors.txt (which
 * test/unit/ccfs-auth-v2.test.ts also runs through this module).
 *
 * The emulator signs its queryBillData callbacks with {@link authV2Header} and checks requests with
 * {@link checkAuthV2}, which accepts every Host reading a real server might use (the value received, the value
 * without its port, the value with the server's port) unless told to be strict.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** One request as the emulator sees it, for signing or checking. */
export interface SignedRequestParts {
  method: string;
  /** Path without the query, as on the request line. */
  path: string;
  /** Decoded query parameters (empty: no query line). */
  query: [string, string][];
  /** Header name → value; names in any case. Only the signed ones are used. */
  headers: Record<string, string>;
  /** The body bytes. */
  body: Buffer;
}

/** PathUtils.normalize from the notes: encodeURIComponent, plus the five marks it leaves alone. */
function pct(text: string | Buffer): string {
  const s = typeof text === 'string' ? text : text.toString('utf8');
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Byte-order sort of ASCII strings (encoded text is ASCII, so this equals Java's String order). */
function byteSorted(list: string[]): string[] {
  return list.slice().sort((x, y) => Buffer.compare(Buffer.from(x, 'latin1'), Buffer.from(y, 'latin1')));
}

/** The canonical request text for `parts` under the signed-header list `signed` (`a;b;c`). */
export function canonicalText(parts: SignedRequestParts, signed: string): string {
  const lower = new Map(Object.entries(parts.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const lines = [parts.method, parts.path];
  if (parts.query.length)
    lines.push(byteSorted(parts.query.map(([k, v]) => `${pct(k)}=${pct(v)}`)).join('&'));
  lines.push(signed);
  for (const h of byteSorted(signed.split(';').map((n) => `${pct(n)}:${pct(lower.get(n) ?? '')}`)))
    lines.push(h);
  // The encoded body follows the last header line's newline; an empty body leaves that newline last.
  return `${lines.join('\n')}\n${parts.body.length ? pct(parts.body) : ''}`;
}

function mac(key: string, text: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(Buffer.from(text, 'utf8')).digest('hex');
}

/**
 * The Authorization value for `parts` signed at `when` with `ak`/`sk`; `names` are the header names to sign,
 * in the form Huawei's Java would be given them (sorted as given, then lower-cased).
 */
export function authV2Header(
  parts: SignedRequestParts,
  ak: string,
  sk: string,
  when: Date,
  names: string[] = ['content-length', 'content-type', 'host'],
): string {
  const stamp = when.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const signed = byteSorted(names)
    .map((n) => n.toLowerCase())
    .join(';');
  const prefix = ['auth-v2', ak, stamp, signed].join('/');
  return `${prefix}/${mac(mac(sk, prefix), canonicalText(parts, signed))}`;
}

/** Why a header was refused. */
export type AuthRefusal = 'missing' | 'malformed' | 'unknown-ak' | 'clock-skew' | 'bad-signature';

/** Options of {@link checkAuthV2}. */
export interface CheckOptions {
  /** AK → SK of the known developers. */
  keys: ReadonlyMap<string, string>;
  /** Now, epoch ms. */
  now: number;
  /** Accepted distance between the header's timestamp and `now`, ms. */
  skewMs: number;
  /**
   * Host readings to try: `any` (received, without port, with `serverPort`), `as-sent` (only the received
   * value), `with-port` / `without-port` (a strict server that computes Host itself).
   */
  hostMode?: 'any' | 'as-sent' | 'with-port' | 'without-port';
  /** The port the server listens on (for the `with-port` reading). */
  serverPort?: number;
}

/** Result of {@link checkAuthV2}. */
export type CheckResult =
  { ok: true; ak: string; signed: string } | { ok: false; why: AuthRefusal; ak?: string };

const HEADER =
  /^auth-v2\/([^/]+)\/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z)\/([^/]+)\/([0-9a-f]{64})$/;

/** Host values a server might have used when verifying (see {@link CheckOptions.hostMode}). */
function hostReadings(received: string, opts: CheckOptions): string[] {
  const bare = received.replace(/:\d+$/, '');
  const withPort = opts.serverPort !== undefined ? `${bare}:${opts.serverPort}` : received;
  switch (opts.hostMode ?? 'any') {
    case 'as-sent':
      return [received];
    case 'with-port':
      return [withPort];
    case 'without-port':
      return [bare];
    default:
      return [...new Set([received, bare, withPort])];
  }
}

/** Checks the Authorization header of a request. Never throws. */
export function checkAuthV2(
  header: string | undefined,
  parts: SignedRequestParts,
  opts: CheckOptions,
): CheckResult {
  if (!header) return { ok: false, why: 'missing' };
  const m = HEADER.exec(header.trim());
  if (!m) return { ok: false, why: 'malformed' };
  const [, ak = '', stamp = '', signed = '', given = ''] = m;
  const sk = opts.keys.get(ak);
  if (sk === undefined) return { ok: false, why: 'unknown-ak', ak };
  if (Math.abs(Date.parse(stamp) - opts.now) > opts.skewMs) return { ok: false, why: 'clock-skew', ak };
  const prefix = `auth-v2/${ak}/${stamp}/${signed}`;
  const key = mac(sk, prefix);
  const lower = Object.fromEntries(Object.entries(parts.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const hosts = signed.split(';').includes('host')
    ? hostReadings(lower.host ?? '', opts)
    : [lower.host ?? ''];
  for (const host of hosts) {
    const expect = mac(key, canonicalText({ ...parts, headers: { ...lower, host } }, signed));
    if (timingSafeEqual(Buffer.from(expect), Buffer.from(given))) return { ok: true, ak, signed };
  }
  return { ok: false, why: 'bad-signature', ak };
}
