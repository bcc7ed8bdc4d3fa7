/**
 * Answering HTTP 401 challenges, client side: `WWW-Authenticate` parsing (RFC 9110 §11), Basic (RFC 7617)
 * and Digest (RFC 7616, with the RFC 2069 no-qop fallback).
 *
 * TIM Plus's built-in web server asks every request to authenticate but its scheme is not documented
 * (/work/shared/reference/timplus/timplus-notes.md), so recpull answers whatever Basic or Digest challenge
 * it is given and says clearly when a server wants something else (NTLM, Negotiate).
 *
 * Secrets: the password is used only to compute header values; it never appears in an error message.
 */
import { createHash, randomBytes } from 'node:crypto';
import { RecpullError } from './errors.js';

/** One challenge (or credentials) in `WWW-Authenticate` / `Authorization` syntax. */
export interface Challenge {
  /** The auth-scheme as sent (compare case-insensitively), e.g. `Digest`. */
  scheme: string;
  /** auth-params, names lower-cased, values unquoted and unescaped; the first of a repeated name wins. */
  params: Record<string, string>;
  /** The token68 form (`Negotiate YIIG...`), when the challenge has one instead of auth-params. */
  token68?: string;
}

// RFC 9110 §5.6.2 tchar; values may also be sent unquoted with a few more characters (lenient: up to , or space).
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

/**
 * Parses `WWW-Authenticate` (or `Authorization`) field values into challenges, per RFC 9110 §11.6.1:
 * `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`, several challenges per field separated by
 * commas, auth-param values as tokens or quoted strings (with `\` escapes), empty list elements ignored.
 * Accepts an array for several header fields. Lenient with unquoted values holding `/`, `=` or `:`
 * (they run to the next comma). Never throws; unparseable trailing text is dropped.
 */
export function parseChallenges(header: string | string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const field of Array.isArray(header) ? header : [header]) parseField(field, out);
  return out;
}

function parseField(s: string, out: Challenge[]): void {
  let i = 0;
  const n = s.length;
  const isWs = (c: string | undefined) => c === ' ' || c === '\t';
  const skipWs = () => {
    while (i < n && isWs(s[i])) i++;
  };
  const skipSeps = () => {
    while (i < n && (isWs(s[i]) || s[i] === ',')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && TCHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  /** Whether an auth-param (`token BWS =`, not a token68's `=` padding) starts at `i`. */
  const paramAhead = (): boolean => {
    let j = i;
    while (j < n && TCHAR.test(s[j]!)) j++;
    if (j === i) return false;
    while (j < n && isWs(s[j])) j++;
    if (s[j] !== '=') return false;
    // token68 padding: `=`s up to the end or the next comma
    let k = j;
    while (k < n && s[k] === '=') k++;
    while (k < n && isWs(s[k])) k++;
    return !(k >= n || s[k] === ',');
  };
  const value = (): string => {
    if (s[i] === '"') {
      i++;
      let v = '';
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) i++;
        v += s[i];
        i++;
      }
      i++; // closing quote (or end)
      return v;
    }
    const start = i;
    while (i < n && s[i] !== ',' && !isWs(s[i])) i++;
    return s.slice(start, i);
  };

  skipSeps();
  while (i < n) {
    const scheme = token();
    if (!scheme) {
      // not a token: skip to the next comma and try again
      while (i < n && s[i] !== ',') i++;
      skipSeps();
      continue;
    }
    const ch: Challenge = { scheme, params: {} };
    out.push(ch);
    skipWs();
    // token68?
    if (i < n && s[i] !== ',' && !paramAhead()) {
      const start = i;
      while (i < n && TOKEN68_CHAR.test(s[i]!)) i++;
      while (i < n && s[i] === '=') i++;
      if (i > start) ch.token68 = s.slice(start, i);
      while (i < n && s[i] !== ',') i++;
      skipSeps();
      continue;
    }
    // auth-params, until something that is not `name=`
    for (;;) {
      skipSeps();
      if (i >= n || !paramAhead()) break;
      const name = token().toLowerCase();
      skipWs();
      i++; // '='
      skipWs();
      const v = value();
      if (!(name in ch.params)) ch.params[name] = v;
      skipWs();
      if (i < n && s[i] !== ',') {
        // junk after a value: drop it up to the next comma
        while (i < n && s[i] !== ',') i++;
      }
    }
  }
}

/** Digest algorithms recpull computes (RFC 7616 §3.3 + the `-sess` variants). */
export type DigestAlgorithm =
  'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';

const HASHES: Record<string, string> = { md5: 'md5', 'sha-256': 'sha256', 'sha-512-256': 'sha512-256' };

/** The canonical algorithm name of a challenge's `algorithm` param (default MD5), or `undefined` if unsupported. */
export function digestAlgorithm(param: string | undefined): DigestAlgorithm | undefined {
  const a = (param ?? 'MD5').trim().toUpperCase();
  const names: DigestAlgorithm[] = [
    'MD5',
    'MD5-sess',
    'SHA-256',
    'SHA-256-sess',
    'SHA-512-256',
    'SHA-512-256-sess',
  ];
  return names.find((x) => x.toUpperCase() === a);
}

function hashHex(algorithm: DigestAlgorithm, data: string): string {
  const base = algorithm.replace(/-sess$/i, '').toLowerCase();
  return createHash(HASHES[base]!).update(data, 'utf8').digest('hex');
}

/** Inputs of a Digest `response` (RFC 7616 §3.4.1). */
export interface DigestInput {
  algorithm: DigestAlgorithm;
  username: string;
  password: string;
  realm: string;
  nonce: string;
  /** HTTP method, e.g. `GET`. */
  method: string;
  /** The request-target as sent in the `uri` param (path + query). */
  uri: string;
  /** `'auth'`, or `undefined` for the RFC 2069 form (then `cnonce`/`nc` are unused except for `-sess`). */
  qop?: 'auth';
  cnonce?: string;
  /** 8 hex digits, e.g. `00000001`. */
  nc?: string;
}

/**
 * The Digest `response` value (lower-case hex), RFC 7616 §3.4.1:
 * `KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2))`, or without qop `KD(H(A1), nonce ":" H(A2))`;
 * `A1 = user:realm:pass` (for `-sess`: `H(user:realm:pass):nonce:cnonce`), `A2 = method:uri`.
 * Shared by the client and the sandbox's verifier.
 */
export function digestResponse(d: DigestInput): string {
  let ha1 = hashHex(d.algorithm, `${d.username}:${d.realm}:${d.password}`);
  if (/-sess$/i.test(d.algorithm)) ha1 = hashHex(d.algorithm, `${ha1}:${d.nonce}:${d.cnonce ?? ''}`);
  const ha2 = hashHex(d.algorithm, `${d.method}:${d.uri}`);
  return d.qop
    ? hashHex(d.algorithm, `${ha1}:${d.nonce}:${d.nc ?? ''}:${d.cnonce ?? ''}:${d.qop}:${ha2}`)
    : hashHex(d.algorithm, `${ha1}:${d.nonce}:${ha2}`);
}

/** The hashed username of RFC 7616 §3.4.4: `H(username ":" realm)`. */
export function digestUserhash(algorithm: DigestAlgorithm, username: string, realm: string): string {
  return hashHex(algorithm, `${username}:${realm}`);
}

/** Quotes a value as an RFC 9110 quoted-string. */
export function quote(v: string): string {
  return `"${v.replace(/["\\]/g, '\\$&')}"`;
}

/** Credentials and test hooks of {@link HttpAuthenticator}. */
export interface HttpAuthOptions {
  username: string;
  password: string;
  /** cnonce generator (default: 16 random bytes as hex). Tests pass a fixed value for RFC test vectors. */
  cnonce?: () => string;
}

interface DigestState {
  algorithm: DigestAlgorithm;
  realm: string;
  nonce: string;
  opaque: string | undefined;
  qop: 'auth' | undefined;
  userhash: boolean;
  charsetUtf8: boolean;
  nc: number;
  cnonce: string;
}

/** Challenges from a header value (string / string[]) or already parsed. */
export type ChallengeInput = Challenge[] | string | string[];

function toChallenges(c: ChallengeInput): Challenge[] {
  return typeof c === 'string' || (Array.isArray(c) && typeof c[0] === 'string')
    ? parseChallenges(c as string | string[])
    : (c as Challenge[]);
}

function isScheme(c: Challenge, name: string): boolean {
  return c.scheme.toLowerCase() === name;
}

/** The qop a Digest challenge lets recpull use: `'auth'`, `undefined` (none offered: RFC 2069), or `false`. */
function pickQop(c: Challenge): 'auth' | undefined | false {
  const q = c.params.qop;
  if (q === undefined) return undefined;
  const offered = q.split(',').map((x) => x.trim().toLowerCase());
  return offered.includes('auth') ? 'auth' : false;
}

/**
 * Client side of HTTP authentication for one set of credentials (one per origin / vendor account).
 *
 * - `authorize(method, uri, challenges)` answers a 401: picks the first supported Digest challenge
 *   (RFC 7616; MD5, SHA-256, SHA-512-256 and their `-sess`; `qop=auth`, or none → RFC 2069), else Basic
 *   (RFC 7617, UTF-8), and returns the `Authorization` value. Throws `RecpullError('E_AUTH')` (not retryable)
 *   naming the offered scheme(s) when none is supported (NTLM, Negotiate, Digest with `qop=auth-int` only or an
 *   unknown algorithm), or when the 401 carried no challenge. The password is never in a message.
 * - `preemptive(method, uri)` reuses the last challenge for the next request (Digest: same nonce, `nc` + 1;
 *   Basic: the same credentials); `undefined` before any challenge.
 * - `isStale(challenges)`: the server wants the same credentials with its new nonce (`stale=true`), not new ones.
 */
export class HttpAuthenticator {
  private readonly username: string;
  private readonly password: string;
  private readonly makeCnonce: () => string;
  private digest: DigestState | undefined;
  private basic = false;

  constructor(opts: HttpAuthOptions) {
    this.username = opts.username;
    this.password = opts.password;
    this.makeCnonce = opts.cnonce ?? (() => randomBytes(16).toString('hex'));
  }

  /**
   * The `Authorization` value answering `challenges` (a `WWW-Authenticate` value, several, or parsed) for a
   * request `method uri` (`uri` = path + query, exactly as sent in the request line).
   */
  authorize(method: string, uri: string, challenges: ChallengeInput): string {
    const list = toChallenges(challenges);
    for (const c of list) {
      if (!isScheme(c, 'digest')) continue;
      const algorithm = digestAlgorithm(c.params.algorithm);
      const qop = pickQop(c);
      const nonce = c.params.nonce;
      if (!algorithm || qop === false || nonce === undefined) continue;
      const prev = this.digest;
      const sameNonce = prev !== undefined && prev.nonce === nonce && prev.algorithm === algorithm;
      this.digest = {
        algorithm,
        realm: c.params.realm ?? '',
        nonce,
        opaque: c.params.opaque,
        qop,
        userhash: (c.params.userhash ?? '').toLowerCase() === 'true',
        charsetUtf8: (c.params.charset ?? '').toLowerCase() === 'utf-8',
        nc: sameNonce ? prev.nc : 0,
        cnonce: sameNonce ? prev.cnonce : this.makeCnonce(),
      };
      this.basic = false;
      return this.digestHeader(method, uri);
    }
    if (list.some((c) => isScheme(c, 'basic'))) {
      this.basic = true;
      this.digest = undefined;
      return this.basicHeader();
    }
    throw unsupported(list);
  }

  /**
   * An `Authorization` value for the next request without waiting for a 401, from the last challenge
   * answered: Digest with the same nonce and the next `nc` (the server answers `stale=true` once the nonce
   * expires), or Basic. `undefined` before any challenge.
   */
  preemptive(method: string, uri: string): string | undefined {
    if (this.digest) return this.digestHeader(method, uri);
    if (this.basic) return this.basicHeader();
    return undefined;
  }

  /**
   * True when a Digest challenge says `stale=true`: the credentials were right but the nonce expired;
   * answer again with the same credentials (not an authentication failure).
   */
  isStale(challenges: ChallengeInput): boolean {
    return toChallenges(challenges).some(
      (c) => isScheme(c, 'digest') && (c.params.stale ?? '').trim().toLowerCase() === 'true',
    );
  }

  /** Forgets the last challenge (e.g. after the server refused the credentials). */
  reset(): void {
    this.digest = undefined;
    this.basic = false;
  }

  private basicHeader(): string {
    return `Basic ${Buffer.from(`${this.username}:${this.password}`, 'utf8').toString('base64')}`;
  }

  private digestHeader(method: string, uri: string): string {
    const d = this.digest!;
    d.nc += 1;
    const nc = d.nc.toString(16).padStart(8, '0');
    const response = digestResponse({
      algorithm: d.algorithm,
      username: this.username,
      password: this.password,
      realm: d.realm,
      nonce: d.nonce,
      method,
      uri,
      ...(d.qop ? { qop: d.qop, nc, cnonce: d.cnonce } : { cnonce: d.cnonce }),
    });
    const parts: string[] = [];
    if (d.userhash) {
      parts.push(`username=${quote(digestUserhash(d.algorithm, this.username, d.realm))}`);
    } else if (/^[\x20-\x7e]*$/.test(this.username)) {
      parts.push(`username=${quote(this.username)}`);
    } else {
      // RFC 7616 §3.4.4 / RFC 8187 extended notation for a non-ASCII username
      parts.push(`username*=UTF-8''${encodeRfc8187(this.username)}`);
    }
    parts.push(
      `realm=${quote(d.realm)}`,
      `uri=${quote(uri)}`,
      `algorithm=${d.algorithm}`,
      `nonce=${quote(d.nonce)}`,
    );
    if (d.qop) parts.push(`nc=${nc}`, `cnonce=${quote(d.cnonce)}`, `qop=${d.qop}`);
    else if (/-sess$/.test(d.algorithm)) parts.push(`cnonce=${quote(d.cnonce)}`);
    parts.push(`response=${quote(response)}`);
    if (d.opaque !== undefined) parts.push(`opaque=${quote(d.opaque)}`);
    if (d.userhash) parts.push('userhash=true');
    return `Digest ${parts.join(', ')}`;
  }
}

/** RFC 8187 value-chars: attr-char kept, everything else percent-encoded UTF-8. */
export function encodeRfc8187(v: string): string {
  return encodeURIComponent(v).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function unsupported(list: Challenge[]): RecpullError {
  if (list.length === 0) {
    return new RecpullError(
      'E_AUTH',
      'the server answered 401 without a WWW-Authenticate challenge; supported: Basic, Digest',
    );
  }
  const names: string[] = [];
  for (const c of list) {
    let name = c.scheme;
    if (isScheme(c, 'digest')) {
      if (!digestAlgorithm(c.params.algorithm)) name = `Digest (algorithm ${c.params.algorithm})`;
      else if (pickQop(c) === false) name = `Digest (qop ${c.params.qop})`;
      else name = 'Digest (without a nonce)';
    }
    if (!names.includes(name)) names.push(name);
  }
  return new RecpullError(
    'E_AUTH',
    `the server asks for ${names.join(', ')} authentication, which recpull cannot speak; supported: Basic, Digest`,
  );
}
