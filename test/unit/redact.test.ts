import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, REDACTED, redact, redactDeep, registerSecret } from '../../src/core/redact.js';

const CANARY = 'canary+Secret/9z=&?x';

afterEach(() => clearSecrets());

describe('redact', () => {
  it('returns text unchanged when nothing is registered', () => {
    expect(redact('hello canary')).toBe('hello canary');
  });

  it('replaces a canary and its URL-encoded and base64 forms', () => {
    registerSecret(CANARY);
    const b64 = Buffer.from(CANARY).toString('base64');
    const line = [
      `raw=${CANARY}`,
      `enc=${encodeURIComponent(CANARY)}`,
      `form=${new URLSearchParams({ a: CANARY }).toString().slice(2)}`,
      `b64=${b64}`,
      `b64url=${Buffer.from(CANARY).toString('base64url')}`,
    ].join(' ');
    const out = redact(line);
    expect(out).toBe('raw=*** enc=*** form=*** b64=*** b64url=***');
  });

  it('treats regex metacharacters literally', () => {
    registerSecret('a.b*c(d)[e]$^|');
    expect(redact('xa.b*c(d)[e]$^|y aXb')).toBe('x***y aXb');
  });

  it('ignores values shorter than 4 characters', () => {
    registerSecret('abc');
    registerSecret('');
    expect(redact('abc abcd')).toBe('abc abcd');
  });

  it('replaces the longest secret first', () => {
    registerSecret('token');
    registerSecret('token-with-suffix');
    expect(redact('x token-with-suffix y token')).toBe('x *** y ***');
  });

  it('registers the query string of a URL', () => {
    const url = 'https://media.example.com/rec/1?access_token=abcdefghijklmnopqrstuvwxyz&x=1';
    registerSecret(url);
    expect(redact(`GET ${url}`)).toBe('GET ***');
    expect(redact('/rec/1?access_token=abcdefghijklmnopqrstuvwxyz&x=1')).toBe('/rec/1?***');
    expect(redact('token abcdefghijklmnopqrstuvwxyz')).toBe('token ***');
  });

  it('sees secrets registered after a first redact (recompiles)', () => {
    registerSecret('first-secret');
    expect(redact('first-secret second-secret')).toBe('*** second-secret');
    registerSecret('second-secret');
    expect(redact('first-secret second-secret')).toBe('*** ***');
    clearSecrets();
    expect(redact('first-secret')).toBe('first-secret');
  });
});

describe('redactDeep', () => {
  it('copies, redacting registered values and sensitive property names', () => {
    registerSecret(CANARY);
    const input = {
      user: 'alice',
      password: 'not-registered',
      nested: [{ clientSecret: 'x1', Authorization: 'Bearer y', note: `is ${CANARY}` }],
      headers: { cookie: 'sid=1', 'x-count': 3 },
      accessToken: 'zzz',
      jwt: 'a.b.c',
      guid: '1234-5678',
      passwordFile: '/etc/pw',
      tokens: 5,
      when: new Date(0),
    };
    const out = redactDeep(input);
    expect(out).toEqual({
      user: 'alice',
      password: REDACTED,
      nested: [{ clientSecret: REDACTED, Authorization: REDACTED, note: 'is ***' }],
      headers: { cookie: REDACTED, 'x-count': 3 },
      accessToken: REDACTED,
      jwt: REDACTED,
      guid: REDACTED,
      passwordFile: REDACTED,
      tokens: 5,
      when: new Date(0),
    });
    expect(input.password).toBe('not-registered');
    expect(JSON.stringify(out)).not.toContain('canary');
  });

  it('handles errors and cycles', () => {
    registerSecret(CANARY);
    const err = new Error(`login failed for ${CANARY}`);
    const out = redactDeep(err);
    expect(out).toBeInstanceOf(Error);
    expect(out.message).toBe('login failed for ***');
    expect(out.stack).not.toContain('canary');
    const cyc: { self?: unknown; s: string } = { s: CANARY };
    cyc.self = cyc;
    const c = redactDeep(cyc);
    expect(c.s).toBe('***');
    expect(c.self).toBe(c);
  });
});

describe('transient secrets', () => {
  /** The registry module, emptied. */
  const registry = async () => {
    const m = await import('../../src/core/redact.js');
    m.clearSecrets();
    return m;
  };

  it('keeps only the newest TRANSIENT_MAX forms, and never drops long-lived secrets', async () => {
    const { registerSecret: reg, redact: red, clearSecrets: clear, TRANSIENT_MAX } = await registry();
    reg('long-lived-password-canary');
    for (let i = 0; i < TRANSIENT_MAX; i++)
      reg(`http://127.0.0.1/echo/token-${String(i).padStart(8, '0')}`, { transient: true });
    // Each URL registers several forms, so the oldest URLs have been evicted: the registry is bounded.
    expect(red('http://127.0.0.1/echo/token-00000000')).toBe('http://127.0.0.1/echo/token-00000000');
    const newest = `http://127.0.0.1/echo/token-${String(TRANSIENT_MAX - 1).padStart(8, '0')}`;
    expect(red(`see ${newest}`)).toBe('see ***');
    expect(red('long-lived-password-canary')).toBe('***');
    clear();
  });

  it('still finds a secret whose first character it shares with evicted ones, or with another class', async () => {
    const { registerSecret: reg, redact: red, clearSecrets: clear, TRANSIENT_MAX } = await registry();
    reg('http-long-lived-canary'); // starts with "h", as every evicted token URL does
    reg('\u1068idden-canary'); // U+1068 falls in the same class of first characters as "h"
    for (let i = 0; i < TRANSIENT_MAX * 2; i++)
      reg(`http://127.0.0.1/echo/token-${String(i).padStart(8, '0')}`, { transient: true });
    expect(red('a http-long-lived-canary b')).toBe('a *** b');
    expect(red('x \u1068idden-canary')).toBe('x ***');
    expect(red('hidden-canary')).toBe('hidden-canary');

    // a value first seen as a transient secret, then registered for good, is never evicted
    reg('https://example.test/once-then-always', { transient: true });
    reg('https://example.test/once-then-always');
    for (let i = 0; i < TRANSIENT_MAX * 2; i++)
      reg(`http://127.0.0.1/echo/later-${String(i).padStart(8, '0')}`, { transient: true });
    expect(red('at https://example.test/once-then-always')).toBe('at ***');
    clear();
    expect(red('http-long-lived-canary')).toBe('http-long-lived-canary');
  });
});
