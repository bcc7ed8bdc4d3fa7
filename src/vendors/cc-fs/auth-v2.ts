/**
 * Huawei CEC "auth-v2" request signing (CC-FS, and CC-CMS / CC-iSales / iKBS), computed exactly as Huawei's
 * own Java signer (SignInfo / SignerUtils / PathUtils of Huawei/CloudIPCC_huaweicloud_hpsdemo) does.
 * Reference: /work/shared/reference/huawei/ccfs-auth-v2-notes.md ("Algorithm") and the vectors in
 * ccfs-auth-v2-vectors.txt, which test/unit/ccfs-auth-v2.test.ts reproduces byte for byte.
 *
 *   prefix    = "auth-v2/" + AK + "/" + ts + "/" + signedHeaders
 *   key       = hex(HMAC-SHA256(UTF-8 SK, prefix))
 *   canonical = METHOD \n path \n [sorted enc(k)=enc(v) joined & \n] signedHeaders \n
 *               sorted enc(lower(name)):enc(value) joined \n \n enc(body)
 *   header    = prefix + "/" + hex(HMAC-SHA256(UTF-8 of the key's hex text, canonical))
 */
import { createHmac } from 'node:crypto';

/** Inputs of {@link signAuthV2}. */
export interface AuthV2Input {
  /** Access key (AK), put in the header as is. */
  ak: string;
  /** Secret key (SK), UTF-8. Never logged. */
  sk: string;
  /** HTTP method, upper-case as sent (`POST`). */
  method: string;
  /** URI path as sent, not encoded (`/CCFS/resource/ccfs/downloadRecord`). */
  path: string;
  /** Decoded query parameters; `null`/`undefined`/`''` values sign as `k=`. Omit (or `{}`) for none. */
  query?: Record<string, string | null | undefined>;
  /**
   * The headers to sign, name → value exactly as sent (at least one; CC-FS signs
   * `content-length`, `content-type` and `host`). Names may be mixed case: see {@link signedHeaderList}.
   */
  headers: Record<string, string>;
  /** The body exactly as sent (a string is taken as UTF-8); empty or absent = no body line. */
  body?: string | Uint8Array;
  /** Signing time; only whole seconds are used (Huawei's Java cannot emit milliseconds). */
  time: Date;
}

/** What {@link signAuthV2} computed; every part is exposed for tests and diagnostics (none is secret but `signingKey`). */
export interface AuthV2Signature {
  /** The `Authorization` header value. */
  authorization: string;
  /** `auth-v2/<ak>/<ts>/<signedHeaders>`. */
  prefix: string;
  /** The `;`-joined signed header names. */
  signedHeaders: string;
  /** `yyyy-MM-ddTHH:mm:ssZ`, UTC. */
  timestamp: string;
  /** Derived per-request key (hex). Secret-ish: do not log. */
  signingKey: string;
  canonicalRequest: string;
  /** Hex signature (the last segment of `authorization`). */
  signature: string;
}

/** The auth-v2 timestamp of `time`: UTC `yyyy-MM-ddTHH:mm:ssZ` (whole seconds). */
export function authV2Timestamp(time: Date): string {
  return `${time.toISOString().slice(0, 19)}Z`;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Huawei's `PathUtils.normalize`: the UTF-8 bytes of `value`, keeping `A-Z a-z 0-9 - . _ ~` and writing every
 * other byte as `%XX` (upper-case hex). Bytes (a `Uint8Array`) are encoded as they are.
 */
export function authV2Encode(value: string | Uint8Array): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    out += b < 0x80 && UNRESERVED.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Java `String.compareTo` order (UTF-16 code units), which is also JavaScript's default sort order. */
function javaSort(values: string[]): string[] {
  return [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The signed-headers list as Huawei's Java builds it: the names AS GIVEN sorted in Java string order, THEN
 * lower-cased, joined by `;` (so `Content-Type, X-Trace-Id, host` → `content-type;x-trace-id;host`).
 * Throws a plain Error for an empty list (the Java throws too).
 */
export function signedHeaderList(names: string[]): string {
  if (names.length === 0) throw new Error('auth-v2 needs at least one signed header');
  return javaSort(names)
    .map((n) => n.toLowerCase())
    .join(';');
}

/** The canonical request of {@link AuthV2Input} (see the module comment). */
export function canonicalRequest(input: AuthV2Input, signedHeaders: string): string {
  let out = `${input.method}\n${input.path}\n`;
  const query = Object.entries(input.query ?? {});
  if (query.length > 0) {
    out += `${javaSort(query.map(([k, v]) => `${authV2Encode(k)}=${authV2Encode(v ?? '')}`)).join('&')}\n`;
  }
  out += `${signedHeaders}\n`;
  const lines = Object.entries(input.headers).map(
    ([k, v]) => `${authV2Encode(k.toLowerCase())}:${authV2Encode(v)}`,
  );
  out += `${javaSort(lines).join('\n')}\n`;
  const body = input.body ?? '';
  if (body.length > 0) out += authV2Encode(body);
  return out;
}

/** Lower-case hex HMAC-SHA256 of UTF-8 `message` under UTF-8 `key`. */
function hmacHex(key: string, message: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(message, 'utf8').digest('hex');
}

/** Signs one request (pure; no clock read). Throws a plain Error when `headers` is empty. */
export function signAuthV2(input: AuthV2Input): AuthV2Signature {
  const timestamp = authV2Timestamp(input.time);
  const signedHeaders = signedHeaderList(Object.keys(input.headers));
  const prefix = `auth-v2/${input.ak}/${timestamp}/${signedHeaders}`;
  const signingKey = hmacHex(input.sk, prefix);
  const canonical = canonicalRequest(input, signedHeaders);
  const signature = hmacHex(signingKey, canonical);
  return {
    authorization: `${prefix}/${signature}`,
    prefix,
    signedHeaders,
    timestamp,
    signingKey,
    canonicalRequest: canonical,
    signature,
  };
}
