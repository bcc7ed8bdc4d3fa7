/**
 * Huawei auth-v2: every vector of ccfs-auth-v2-vectors.txt (produced by Huawei's own Java signer), read from the
 * file at test time, reproduced byte for byte by recpull's signer (src/vendors/cc-fs/auth-v2.ts) and by the
 * emulator's independently written one (src/sandbox/cc-fs/auth.ts), which must also accept each vector's header.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { authV2Header, canonicalText, checkAuthV2 } from '../../src/sandbox/cc-fs/auth.js';
import { authV2Encode, signAuthV2 } from '../../src/vendors/cc-fs/auth-v2.js';

// The repository's parent holds shared/ (in CI: a copy beside the fresh clone).
const VECTORS = fileURLToPath(
  new URL('../../../shared/reference/huawei/ccfs-auth-v2-vectors.txt', import.meta.url),
);

type Record_ = Record<string, unknown>;

/** Records of the file: blank-line separated, `key: <JSON>` lines, `#` comments. */
function readRecords(): Record_[] {
  const records: Record_[] = [];
  let current: Record_ = {};
  for (const raw of readFileSync(VECTORS, 'utf8').split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('#')) continue;
    if (line === '') {
      if (Object.keys(current).length) records.push(current);
      current = {};
      continue;
    }
    const at = line.indexOf(': ');
    current[line.slice(0, at)] = JSON.parse(line.slice(at + 2));
  }
  if (Object.keys(current).length) records.push(current);
  return records;
}

interface Vector {
  vector: string;
  ak: string;
  sk: string;
  method: string;
  path: string;
  query: Record<string, string | null>;
  headers: Record<string, string>;
  signed_header_names: string[];
  body: string;
  body_utf8_hex: string;
  body_len: number;
  ts: string;
  signed_headers: string;
  auth_string_prefix: string;
  signing_key: string;
  canonical_request: string;
  signature: string;
  authorization: string;
}

const records = readRecords();
const vectors = records.filter((r) => 'vector' in r) as unknown as Vector[];
const encodings = records.filter((r) => 'enc_in' in r) as { enc_in: string; enc_out: string }[];

/** Headers in the order the vector names them (that order matters for the mixed-case quirk). */
const headersOf = (v: Vector) =>
  Object.fromEntries(v.signed_header_names.map((n) => [n, v.headers[n] as string]));

describe('auth-v2 vectors file', () => {
  it('holds the 9 signing vectors and 6 enc() records, with consistent bodies', () => {
    expect(vectors.map((v) => v.vector[0]).join('')).toBe('abcdefghi');
    expect(encodings).toHaveLength(6);
    for (const v of vectors) {
      expect(Buffer.from(v.body, 'utf8').toString('hex')).toBe(v.body_utf8_hex);
      expect(Buffer.byteLength(v.body)).toBe(v.body_len);
    }
  });
});

describe('recpull signer (src/vendors/cc-fs/auth-v2.ts)', () => {
  it.each(vectors.map((v) => [v.vector, v] as const))('%s', (_name, v) => {
    const s = signAuthV2({
      ak: v.ak,
      sk: v.sk,
      method: v.method,
      path: v.path,
      query: v.query,
      headers: headersOf(v),
      body: Buffer.from(v.body_utf8_hex, 'hex'),
      time: new Date(v.ts),
    });
    expect(s.timestamp).toBe(v.ts);
    expect(s.signedHeaders).toBe(v.signed_headers);
    expect(s.prefix).toBe(v.auth_string_prefix);
    expect(s.signingKey).toBe(v.signing_key);
    expect(s.canonicalRequest).toBe(v.canonical_request);
    expect(s.signature).toBe(v.signature);
    expect(s.authorization).toBe(v.authorization);
    // The body as a string signs the same as its UTF-8 bytes.
    expect(signAuthV2({ ...v, headers: headersOf(v), time: new Date(v.ts) }).authorization).toBe(
      v.authorization,
    );
  });

  it('enc() records', () => {
    for (const e of encodings) expect(authV2Encode(e.enc_in)).toBe(e.enc_out);
  });

  it('drops milliseconds from the timestamp, as the Java can only emit whole seconds', () => {
    const v = vectors[0] as Vector;
    const s = signAuthV2({ ...v, headers: headersOf(v), time: new Date(Date.parse(v.ts) + 872) });
    expect(s.authorization).toBe(v.authorization);
  });
});

describe('emulator signer and verifier (src/sandbox/cc-fs/auth.ts)', () => {
  const partsOf = (v: Vector) => ({
    method: v.method,
    path: v.path,
    query: Object.entries(v.query).map(([k, val]) => [k, val ?? ''] as [string, string]),
    headers: v.headers,
    body: Buffer.from(v.body_utf8_hex, 'hex'),
  });

  it.each(vectors.map((v) => [v.vector, v] as const))('%s', (_name, v) => {
    const parts = partsOf(v);
    expect(canonicalText(parts, v.signed_headers)).toBe(v.canonical_request);
    expect(authV2Header(parts, v.ak, v.sk, new Date(v.ts), v.signed_header_names)).toBe(v.authorization);
    const opts = {
      keys: new Map([[v.ak, v.sk]]),
      now: Date.parse(v.ts) + 1000,
      skewMs: 300_000,
      hostMode: 'as-sent' as const,
    };
    expect(checkAuthV2(v.authorization, parts, opts)).toMatchObject({ ok: true, ak: v.ak });
    const tampered = v.authorization.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    expect(checkAuthV2(tampered, parts, opts)).toMatchObject({ ok: false, why: 'bad-signature' });
    expect(checkAuthV2(v.authorization, parts, { ...opts, now: Date.parse(v.ts) + 600_000 })).toMatchObject({
      ok: false,
      why: 'clock-skew',
    });
  });

  it('accepts a signature over the Host without its port when the server reads Host loosely', () => {
    const v = vectors[0] as Vector;
    const parts = partsOf(v);
    const signedBare = authV2Header(
      { ...parts, headers: { ...v.headers, host: '10.22.26.181' } },
      v.ak,
      v.sk,
      new Date(v.ts),
    );
    const opts = { keys: new Map([[v.ak, v.sk]]), now: Date.parse(v.ts), skewMs: 1000 };
    expect(checkAuthV2(signedBare, parts, opts).ok).toBe(true);
    expect(checkAuthV2(signedBare, parts, { ...opts, hostMode: 'as-sent' }).ok).toBe(false);
    expect(checkAuthV2(v.authorization, parts, { ...opts, hostMode: 'without-port' }).ok).toBe(false);
  });
});
