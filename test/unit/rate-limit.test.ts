/**
 * The rate-limit scheduler with a fake clock: delays are asserted from recorded values, nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import {
  RateLimiter,
  type RateLimiterOptions,
  type RateLimitWait,
  type RateObservation,
} from '../../src/core/rate-limit.js';

function fake(opts: Partial<RateLimiterOptions> = {}) {
  const clock = { t: 1_000_000 };
  const delays: number[] = [];
  const waits: RateLimitWait[] = [];
  const limiter = new RateLimiter({
    group: 'Heavy',
    initial: { limit: 10, windowMs: 60_000 },
    now: () => clock.t,
    sleep: async (ms) => {
      delays.push(ms);
      clock.t += ms;
    },
    onWait: (w) => waits.push(w),
    ...opts,
  });
  /** Takes a slot and answers it at once (`latencyMs` later) with `observed`. */
  const send = async (observed?: RateObservation, latencyMs = 0) => {
    const slot = await limiter.acquire();
    const sentAt = clock.t;
    clock.t += latencyMs;
    slot.release(observed);
    return sentAt;
  };
  return { clock, delays, waits, limiter, send };
}

describe('RateLimiter', () => {
  it('starts from the published default (10 per 60 s) and waits a window for the 11th request', async () => {
    const { delays, send, waits } = fake();
    for (let i = 0; i < 10; i++) await send();
    expect(delays).toEqual([]);
    await send();
    expect(delays).toEqual([60_000]);
    expect(waits).toEqual([{ group: 'Heavy', waitMs: 60_000, reason: 'budget' }]);
  });

  it('learns X-Rate-Limit-Limit and -Window from responses and keeps a sliding window', async () => {
    const { delays, send, clock } = fake();
    const t0 = clock.t;
    await send({ limit: 3, remaining: 2, windowSeconds: 1 });
    clock.t += 100;
    await send({ limit: 3, remaining: 1, windowSeconds: 1 });
    clock.t += 100;
    await send({ limit: 3, remaining: 0, windowSeconds: 1 });
    // The 4th waits until the first slot leaves the 1 s window, the 5th until the second does.
    const fourth = await send({ limit: 3, remaining: 0, windowSeconds: 1 });
    const fifth = await send({ limit: 3, remaining: 0, windowSeconds: 1 });
    expect(delays).toEqual([800, 100]);
    expect(fourth - t0).toBe(1000);
    expect(fifth - t0).toBe(1100);
  });

  it('counts a slot from its answer, not from its sending (the server counted it no earlier)', async () => {
    const { delays, send, clock } = fake({ initial: { limit: 1, windowMs: 1000 } });
    const t0 = clock.t;
    await send(undefined, 250); // answered 250 ms after it was sent
    const second = await send();
    expect(second - t0).toBe(1250);
    expect(delays).toEqual([1000]);
  });

  it('trusts X-Rate-Limit-Remaining: requests it did not send fill the window (phantom slots)', async () => {
    const { delays, send } = fake();
    // Another client of the same user and app used 9 of 10: the server says 0 remain after ours.
    await send({ limit: 10, remaining: 0, windowSeconds: 60 });
    await send();
    expect(delays).toEqual([60_000]);
  });

  it('never adds phantoms for its own requests answered out of order', async () => {
    const { limiter, delays, clock } = fake({ initial: { limit: 3, windowMs: 1000 } });
    const a = await limiter.acquire();
    const b = await limiter.acquire();
    // b reached the server first and was counted first; its answer says 2 remain... then a says 1.
    b.release({ limit: 3, remaining: 2, windowSeconds: 1 });
    a.release({ limit: 3, remaining: 1, windowSeconds: 1 });
    const c = await limiter.acquire();
    c.release({ limit: 3, remaining: 0, windowSeconds: 1 });
    expect(delays).toEqual([]);
    const t = clock.t;
    (await limiter.acquire()).release();
    expect(clock.t - t).toBe(1000);
  });

  it("compares the server's count with its own as of when the request was taken, not answered", async () => {
    const { limiter, delays, clock } = fake({ initial: { limit: 2, windowMs: 1000 } });
    const t0 = clock.t;
    (await limiter.acquire()).release(); // a: sent and answered at t0
    clock.t = t0 + 999;
    const b = await limiter.acquire(); // b reaches the server at t0 + 999: a and b in its window
    clock.t = t0 + 1001; // b's answer: a has left this limiter's window, not the server's count for b
    b.release({ limit: 2, remaining: 0, windowSeconds: 1 });
    // no phantom: the server's 2 were a and b; at t0 + 1001 only b counts, so a third request may go
    const c = await limiter.acquire();
    expect(delays).toEqual([]);
    c.release({ limit: 2, remaining: 0, windowSeconds: 1 }); // b and c: the window is full
    await limiter.acquire();
    expect(delays).toEqual([1000]);
  });

  it("still takes unknown requests in the server's count for someone else's (phantoms)", async () => {
    const { limiter, delays, clock } = fake({ initial: { limit: 3, windowMs: 1000 } });
    const a = await limiter.acquire();
    clock.t += 1500; // a slow answer: its request was alone in this limiter's window
    a.release({ limit: 3, remaining: 0, windowSeconds: 1 }); // the server saw 3: two were not ours
    await limiter.acquire();
    expect(delays).toEqual([1000]); // a and two phantoms, all counted from the answer
  });

  it('waits for pending slots to be released when they alone fill the window', async () => {
    const { limiter, clock } = fake({
      initial: { limit: 2, windowMs: 1000 },
      sleep: () => new Promise(() => {}),
    });
    const a = await limiter.acquire();
    await limiter.acquire();
    let third = false;
    const p = limiter.acquire().then((s) => {
      third = true;
      return s;
    });
    await new Promise((r) => setImmediate(r));
    expect(third).toBe(false);
    expect(limiter.delay().waitMs).toBe(Number.POSITIVE_INFINITY);
    a.release();
    // Released at t: the window is still full until t + 1000; the waiter re-checks and sleeps (never here).
    await new Promise((r) => setImmediate(r));
    expect(third).toBe(false);
    expect(limiter.delay()).toEqual({ waitMs: 1000, reason: 'budget' });
    clock.t += 1000;
    expect(limiter.delay().waitMs).toBe(0); // a left the window; b, still pending, counts
    expect(third).toBe(false);
    void p;
  });

  it('pauses every worker for Retry-After on 429 and sends nothing in the penalty', async () => {
    const { limiter, delays, waits, clock, send } = fake({ initial: { limit: 100, windowMs: 1000 } });
    await send();
    const t429 = clock.t;
    expect(limiter.penalize(2000)).toBe(2000);
    expect(waits).toEqual([{ group: 'Heavy', waitMs: 2000, reason: 'penalty' }]);
    const sent = await Promise.all([send(), send(), send()]);
    for (const t of sent) expect(t).toBeGreaterThanOrEqual(t429 + 2000);
    expect(delays[0]).toBe(2000);
    // The penalty was announced once, when the 429 arrived, not again by each waiting worker.
    expect(waits).toHaveLength(1);
  });

  it('assumes a 30 s penalty when the 429 has no Retry-After; a later, longer one extends it', async () => {
    const { limiter, clock, send } = fake();
    const t = clock.t;
    expect(limiter.penalize(undefined)).toBe(30_000);
    expect(limiter.penalize(1000)).toBe(30_000); // a shorter one never shortens it
    clock.t += 10_000;
    expect(limiter.penalize(40_000)).toBe(40_000);
    const sentAt = await send();
    expect(sentAt).toBe(t + 50_000);
  });

  it('applies a configured cap besides the learned budget', async () => {
    const { delays, send } = fake({ cap: { limit: 2, windowMs: 10_000 } });
    await send({ limit: 100, remaining: 99, windowSeconds: 1 });
    await send({ limit: 100, remaining: 98, windowSeconds: 1 });
    await send({ limit: 100, remaining: 99, windowSeconds: 1 });
    expect(delays).toEqual([10_000]);
  });

  it('announces only waits of at least announceAfterMs, once per stretch', async () => {
    const { waits, send, delays } = fake({ initial: { limit: 1, windowMs: 500 }, announceAfterMs: 1000 });
    await send();
    await send();
    expect(delays).toEqual([500]);
    expect(waits).toEqual([]);
  });

  it('gives up with E_RATE_LIMIT past maxWaitMs, and with E_ABORTED when the signal aborts', async () => {
    const { limiter } = fake({ initial: { limit: 1, windowMs: 60_000 } });
    (await limiter.acquire()).release();
    await expect(limiter.acquire({ maxWaitMs: 1000 })).rejects.toMatchObject({
      code: 'E_RATE_LIMIT',
      retryable: true,
    });
    const ac = new AbortController();
    ac.abort();
    await expect(limiter.acquire({ signal: ac.signal })).rejects.toMatchObject({ code: 'E_ABORTED' });
  });
});
