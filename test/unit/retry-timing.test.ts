import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelay } from '../../src/core/retry-timing.js';

describe('retryDelay (exponential backoff, full jitter, Retry-After first)', () => {
  it('grows as base * 2^(attempt-1), scaled by the random factor', () => {
    expect(retryDelay({ attempt: 1, random: 0.5 })).toBe(500);
    expect(retryDelay({ attempt: 2, random: 0.5 })).toBe(1000);
    expect(retryDelay({ attempt: 4, random: 0.5 })).toBe(4000);
    expect(retryDelay({ attempt: 3, random: 0 })).toBe(0);
    expect(retryDelay({ attempt: 3, random: 0.999 })).toBe(3996);
  });

  it('never exceeds the cap (default 60 s), even for large attempts', () => {
    expect(retryDelay({ attempt: 7, random: 0.999 })).toBe(59_940);
    expect(retryDelay({ attempt: 40, random: 0.999 })).toBe(59_940);
    expect(retryDelay({ attempt: 5, baseMs: 100, capMs: 1000, random: 0.999 })).toBe(999);
  });

  it('uses Retry-After instead of the backoff, clamped to the maximum', () => {
    expect(retryDelay({ attempt: 1, retryAfterMs: 30_000, random: 0.1 })).toBe(30_000);
    expect(retryDelay({ attempt: 6, retryAfterMs: 0, random: 0.9 })).toBe(0);
    expect(retryDelay({ attempt: 1, retryAfterMs: 3_600_000 })).toBe(600_000);
    expect(retryDelay({ attempt: 2, retryAfterMs: Number.NaN, random: 0.5 })).toBe(1000);
  });

  it('draws from the whole interval [0, exp) with Math.random by default', () => {
    const seen = Array.from({ length: 200 }, () => retryDelay({ attempt: 3 }));
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...seen)).toBeLessThan(4000);
    expect(new Set(seen).size).toBeGreaterThan(50);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('30')).toBe(30_000);
    expect(parseRetryAfter(['5', '9'])).toBe(5_000);
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:00:45 GMT', now)).toBe(45_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('')).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-5')).toBeUndefined();
  });
});
