/**
 * The one redaction helper of recpull (DESIGN.md "Contracts": no secret in a log line, an event, the
 * manifest or an error message).
 *
 * A process-wide registry of secret values. Whoever learns a secret (config loading, a vendor client
 * receiving a token or a token-bearing URL) calls `registerSecret()` once; everything that writes text out
 * (renderers, error formatting, the manifest) passes it through `redact()` / `redactDeep()`.
 *
 * `redact()` runs on every log line, so its cost does not grow with the number of secrets (see `buckets`).
 */

/** What a secret is replaced with. */
export const REDACTED = '***';

/** Values shorter than this are ignored: redacting `abc` everywhere would mangle ordinary text. */
export const MIN_SECRET_LENGTH = 4;

/**
 * Secrets shorter than this (6 characters) cannot be redacted safely: their text is common enough to be
 * replaced inside ordinary words, and what is left around `***` may give them away. `registerSecret()`
 * records a warning for them (`shortSecretWarnings()`); 4 and 5 characters are still redacted.
 */
export const SAFE_SECRET_LENGTH = 6;

/** Query parameter values at least this long are registered on their own when a URL is registered. */
const MIN_QUERY_VALUE_LENGTH = 16;

/** Property names whose string values `redactDeep()` always replaces, whatever the registry holds. */
export const SENSITIVE_KEY = /pass(word)?|secret|token|jwt|guid|authorization|cookie/i;

/** How many forms of short-lived secrets (per-download token URLs) are kept; older ones are long used. */
export const TRANSIENT_MAX = 2048;

/**
 * The registry, indexed for a single left-to-right scan: secrets are bucketed by a hash of their first four
 * characters, and within a bucket by length (longest first), each length a Set. At a position `redact()`
 * looks up one substring per distinct length in the bucket, so its cost does not grow with the number of
 * secrets sharing a prefix (every token URL starts with `http`), and registering or dropping one is O(1)
 * but for a new length. No regular expression is rebuilt per token.
 */
const secrets = new Set<string>();
interface Bucket {
  /** Distinct lengths of the bucket's secrets, longest first. */
  lengths: number[];
  byLength: Map<number, Set<string>>;
}
const buckets = new Map<number, Bucket>();
/**
 * How many secrets start with a character of each class (its UTF-16 code & `FIRST_MASK`): `redact()` skips
 * a position whose character starts none without hashing four characters and looking up a bucket (a
 * 1 000 000-key re-run emits a million skip lines, and passed every character of each through both).
 */
const FIRST_MASK = 0xfff;
const firstChars = new Uint32Array(FIRST_MASK + 1);
/** The transient subset, oldest first (a Set keeps insertion order). */
const transient = new Set<string>();
/** Warnings about short secrets, in the order they were registered, without repeats. */
const shortWarnings: string[] = [];

function keyAt(text: string, i: number): number {
  return (
    (((text.charCodeAt(i) * 31 + text.charCodeAt(i + 1)) * 31 + text.charCodeAt(i + 2)) * 31 +
      text.charCodeAt(i + 3)) |
    0
  );
}

function add(value: string, isTransient: boolean): void {
  if (value.length < MIN_SECRET_LENGTH) return;
  if (secrets.has(value)) {
    if (!isTransient) transient.delete(value); // registered for good now: never evicted
    return;
  }
  secrets.add(value);
  (firstChars[value.charCodeAt(0) & FIRST_MASK] as number)++;
  const key = keyAt(value, 0);
  let bucket = buckets.get(key);
  if (!bucket) {
    bucket = { lengths: [], byLength: new Map() };
    buckets.set(key, bucket);
  }
  let same = bucket.byLength.get(value.length);
  if (!same) {
    same = new Set();
    bucket.byLength.set(value.length, same);
    const at = bucket.lengths.findIndex((n) => n < value.length);
    bucket.lengths.splice(at === -1 ? bucket.lengths.length : at, 0, value.length);
  }
  same.add(value);
  if (!isTransient) return;
  transient.add(value);
  if (transient.size > TRANSIENT_MAX) {
    const oldest = transient.values().next().value as string;
    transient.delete(oldest);
    remove(oldest);
  }
}

function remove(value: string): void {
  secrets.delete(value);
  (firstChars[value.charCodeAt(0) & FIRST_MASK] as number)--;
  const key = keyAt(value, 0);
  const bucket = buckets.get(key);
  const same = bucket?.byLength.get(value.length);
  if (!bucket || !same) return;
  same.delete(value);
  if (same.size > 0) return;
  bucket.byLength.delete(value.length);
  bucket.lengths = bucket.lengths.filter((n) => n !== value.length);
  if (bucket.lengths.length === 0) buckets.delete(key);
}

/**
 * Registers a secret (password, client secret, JWT, access token, GUID, token-bearing URL) so that
 * `redact()` hides it from now on. Values shorter than 4 characters are not redacted (and warned about).
 *
 * Also registers the forms the value is likely to appear in: URL-encoded (`encodeURIComponent` and
 * form encoding), base64 and base64url; for a value that parses as an absolute URL with a query string,
 * the query string (without `?`) and each query parameter value of 16 characters or more.
 *
 * For HTTP Basic credentials register `user:password` too: its base64 form is what the header carries.
 *
 * `transient: true` is for secrets minted per download (TIM Plus token URLs): only the newest
 * `TRANSIENT_MAX` forms are kept, so a run of a million recordings does not grow the registry without bound.
 *
 * @returns for a (non-transient) secret of 1 to 5 characters, a warning that it cannot be redacted safely
 *   (also kept for `shortSecretWarnings()`, which the CLI prints once the config is loaded); else undefined.
 *   The warning never holds the secret.
 */
export function registerSecret(value: string, options: { transient?: boolean } = {}): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  let warning: string | undefined;
  if (value.length < SAFE_SECRET_LENGTH && options.transient !== true) {
    warning =
      value.length < MIN_SECRET_LENGTH
        ? `a secret of ${value.length} character(s) cannot be redacted safely: it is too short to be hidden in output at all; use a longer one`
        : `a secret of ${value.length} characters cannot be redacted safely: it is replaced by *** wherever it appears, even inside ordinary words; use one of ${SAFE_SECRET_LENGTH} characters or more`;
    if (!shortWarnings.includes(warning)) shortWarnings.push(warning);
  }
  if (value.length < MIN_SECRET_LENGTH) return warning;
  const t = options.transient === true;
  add(value, t);
  add(encodeURIComponent(value), t);
  add(new URLSearchParams({ v: value }).toString().slice(2), t);
  const b64 = Buffer.from(value, 'utf8').toString('base64');
  add(b64, t);
  add(b64.replace(/=+$/, ''), t);
  add(Buffer.from(value, 'utf8').toString('base64url'), t);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (url && url.search.length > 1) {
      const query = url.search.slice(1);
      add(query, t);
      add(decodeURIComponentSafe(query), t);
      for (const v of url.searchParams.values()) {
        if (v.length >= MIN_QUERY_VALUE_LENGTH) registerSecret(v, options);
      }
    }
  }
  return warning;
}

/**
 * The warnings `registerSecret()` recorded for secrets shorter than `SAFE_SECRET_LENGTH` (each message at
 * most once, none holding a secret). The CLI prints them as warnings after loading the config.
 */
export function shortSecretWarnings(): string[] {
  return [...shortWarnings];
}

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Replaces every registered secret (and its encoded forms) in `text` with `***`: leftmost match first,
 * the longest secret at that position. Cheap when none match.
 */
export function redact(text: string): string {
  if (typeof text !== 'string') return text;
  if (secrets.size === 0 || text.length < MIN_SECRET_LENGTH) return text;
  let out = '';
  let last = 0;
  for (let i = 0; i <= text.length - MIN_SECRET_LENGTH;) {
    if (firstChars[text.charCodeAt(i) & FIRST_MASK] === 0) {
      i++;
      continue;
    }
    const bucket = buckets.get(keyAt(text, i));
    let matched = 0;
    if (bucket) {
      for (const n of bucket.lengths) {
        if (i + n <= text.length && bucket.byLength.get(n)?.has(text.slice(i, i + n))) {
          matched = n;
          break;
        }
      }
    }
    if (matched > 0) {
      out += text.slice(last, i) + REDACTED;
      i += matched;
      last = i;
    } else i++;
  }
  return last === 0 ? text : out + text.slice(last);
}

/**
 * A deep copy of `obj` that is safe to print: every string is passed through `redact()`, and every string
 * property whose name matches `SENSITIVE_KEY` (`password`, `clientSecret`, `jwt`, `token`, `guid`,
 * `Authorization`, `cookie`, ...) becomes `***`. Arrays and plain objects are copied; an `Error` becomes a
 * copy of the same class with redacted `message`/`stack`/own properties; other objects (Date, Buffer, Map,
 * class instances) are returned as they are. Cycles are preserved.
 */
export function redactDeep<T>(obj: T): T {
  return copy(obj, new WeakMap()) as T;
}

function copy(value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object') return value;
  const known = seen.get(value);
  if (known !== undefined) return known;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(copy(item, seen));
    return out;
  }
  const proto = Object.getPrototypeOf(value) as object | null;
  const isError = value instanceof Error;
  if (!isError && proto !== Object.prototype && proto !== null) return value;
  const out = Object.create(proto) as Record<string, unknown>;
  seen.set(value, out);
  if (isError) {
    Object.defineProperty(out, 'message', {
      value: redact(value.message),
      writable: true,
      configurable: true,
    });
    if (value.stack !== undefined) {
      Object.defineProperty(out, 'stack', { value: redact(value.stack), writable: true, configurable: true });
    }
  }
  for (const [key, v] of Object.entries(value)) {
    out[key] = typeof v === 'string' && SENSITIVE_KEY.test(key) ? REDACTED : copy(v, seen);
  }
  return out;
}

/** Forgets every registered secret. For tests only. */
export function clearSecrets(): void {
  secrets.clear();
  buckets.clear();
  firstChars.fill(0);
  transient.clear();
  shortWarnings.length = 0;
}
