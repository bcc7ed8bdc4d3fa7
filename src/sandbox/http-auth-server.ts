/**
 * Server side of HTTP Basic (RFC 7617) and Digest (RFC 7616) authentication, for the sandbox emulators
 * (the TIM Plus web server's scheme is undocumented, so the sandbox can speak either). Imports only
 * vendor-independent helpers from src/core/http-auth.ts.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type DigestAlgorithm,
  digestAlgorithm,
  digestResponse,
  digestUserhash,
  parseChallenges,
  quote,
} from '../core/http-auth.js';

function parseCredentials(header: string): { scheme: string; rest: string } {
  const m = /^\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*(.*)$/s.exec(header);
  return m ? { scheme: m[1]!.toLowerCase(), rest: m[2]! } : { scheme: '', rest: '' };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks an `Authorization: Basic ...` value (RFC 7617, UTF-8) against the expected credentials. */
export function verifyBasic(header: string | undefined, username: string, password: string): boolean {
  if (!header) return false;
  const { scheme, rest } = parseCredentials(header);
  if (scheme !== 'basic') return false;
  const decoded = Buffer.from(rest.trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const okUser = safeEqual(decoded.slice(0, colon), username);
  const okPass = safeEqual(decoded.slice(colon + 1), password);
  return okUser && okPass;
}

/** What {@link verifyDigest} checks against. */
export interface DigestVerifyOptions {
  username: string;
  password: string;
  realm: string;
  /** The request's method. */
  method: string;
  /** The request-target as received; when given, the `uri` param must equal it. */
  uri?: string;
  /** Whether the server issued this nonce and it has not expired (false → `'stale'` when the rest is right). */
  nonceValid(nonce: string): boolean;
  /** Optional replay check: return false when this (nonce, nc) pair was already seen (→ `'bad'`). */
  ncValid?(nonce: string, nc: number): boolean;
}

/**
 * Checks an `Authorization: Digest ...` value (RFC 7616 §3.4; MD5, SHA-256, SHA-512-256, `-sess`, `qop=auth`
 * or none, `userhash`, `username*`). Returns `'ok'`; `'stale'` when the response is right for an expired or
 * unknown nonce (answer 401 with `stale=true`); `'bad'` otherwise (missing/malformed header, wrong user,
 * realm, uri or password).
 */
export function verifyDigest(header: string | undefined, opts: DigestVerifyOptions): 'ok' | 'stale' | 'bad' {
  if (!header) return 'bad';
  const { scheme } = parseCredentials(header);
  if (scheme !== 'digest') return 'bad';
  const p = parseParams(header);
  const algorithm = digestAlgorithm(p.algorithm);
  const { nonce, uri, response } = p;
  if (!algorithm || nonce === undefined || uri === undefined || response === undefined) return 'bad';
  if ((p.realm ?? '') !== opts.realm) return 'bad';
  if (opts.uri !== undefined && uri !== opts.uri) return 'bad';
  if (!usernameMatches(p, algorithm, opts)) return 'bad';
  const qop = p.qop?.toLowerCase();
  if (qop !== undefined && qop !== 'auth') return 'bad';
  if (qop === 'auth' && (p.nc === undefined || !/^[0-9a-fA-F]{8}$/.test(p.nc) || p.cnonce === undefined))
    return 'bad';
  const expected = digestResponse({
    algorithm,
    username: opts.username,
    password: opts.password,
    realm: opts.realm,
    nonce,
    method: opts.method,
    uri,
    ...(qop === 'auth' ? { qop: 'auth' as const, nc: p.nc!, cnonce: p.cnonce! } : {}),
    ...(p.cnonce !== undefined && qop === undefined ? { cnonce: p.cnonce } : {}),
  });
  if (!safeEqual(response.toLowerCase(), expected)) return 'bad';
  if (!opts.nonceValid(nonce)) return 'stale';
  if (qop === 'auth' && opts.ncValid && !opts.ncValid(nonce, Number.parseInt(p.nc!, 16))) return 'bad';
  return 'ok';
}

function usernameMatches(
  p: Record<string, string>,
  algorithm: DigestAlgorithm,
  opts: DigestVerifyOptions,
): boolean {
  if ((p.userhash ?? '').toLowerCase() === 'true') {
    return (
      p.username !== undefined && safeEqual(p.username, digestUserhash(algorithm, opts.username, opts.realm))
    );
  }
  if (p.username !== undefined) return safeEqual(p.username, opts.username);
  const ext = p['username*'];
  if (ext === undefined) return false;
  const m = /^UTF-8'[^']*'(.*)$/i.exec(ext);
  if (!m) return false;
  try {
    return safeEqual(decodeURIComponent(m[1]!), opts.username);
  } catch {
    return false;
  }
}

/** The auth-params of a Digest credentials value (same syntax as a challenge; names lower-cased). */
function parseParams(header: string): Record<string, string> {
  return parseChallenges(header)[0]?.params ?? {};
}

/** Options of a Digest challenge the sandbox sends. */
export interface DigestChallengeOptions {
  realm: string;
  /** Default: 16 random bytes, base64url. */
  nonce?: string;
  opaque?: string;
  /** Default `MD5`. */
  algorithm?: DigestAlgorithm;
  /** Default `auth`; `null` for an RFC 2069 challenge without qop. */
  qop?: 'auth' | 'auth,auth-int' | null;
  stale?: boolean;
  userhash?: boolean;
}

/** A `WWW-Authenticate` value for a Digest challenge (RFC 7616 §3.3). */
export function digestChallenge(o: DigestChallengeOptions): string {
  const parts = [`realm=${quote(o.realm)}`];
  const qop = o.qop === undefined ? 'auth' : o.qop;
  if (qop !== null) parts.push(`qop=${quote(qop)}`);
  parts.push(`algorithm=${o.algorithm ?? 'MD5'}`);
  parts.push(`nonce=${quote(o.nonce ?? newNonce())}`);
  if (o.opaque !== undefined) parts.push(`opaque=${quote(o.opaque)}`);
  if (o.stale) parts.push('stale=true');
  if (o.userhash) parts.push('userhash=true');
  return `Digest ${parts.join(', ')}`;
}

/** A fresh random nonce (16 bytes, base64url). */
export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

/** A `WWW-Authenticate` value for a Basic challenge (RFC 7617 §2, `charset="UTF-8"`). */
export function basicChallenge(realm: string): string {
  return `Basic realm=${quote(realm)}, charset="UTF-8"`;
}
