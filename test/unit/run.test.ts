/**
 * The engine without HTTP: `runDownloads` over an in-memory source (retries, fatal errors, input rows,
 * duplicates, backpressure on the source).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runEndOfError } from '../../src/cli/common.js';
import { Interrupt, RecpullError } from '../../src/core/errors.js';
import type { RunEvent } from '../../src/core/events.js';
import { untilAborted } from '../../src/core/queue.js';
import { registerSecret } from '../../src/core/redact.js';
import { runDownloads } from '../../src/core/run.js';
import { bodyError } from '../../src/core/sink.js';
import type { FetchedBody, InputRowError, RecordingRef, Source } from '../../src/core/source.js';
import { makeMp3, makeWav } from '../../src/sandbox/catalogue.js';
import { manifestLines, tempDir } from '../helpers/cli.js';

type Behaviour = (attempt: number) => FetchedBody | RecpullError;

function source(
  items: (RecordingRef | InputRowError)[],
  behave: (ref: RecordingRef) => Behaviour,
  pulled?: { n: number },
): Source {
  return {
    vendor: 'mem',
    fields: ['id'],
    defaultTemplate: '{id}.{ext}',
    async *refs() {
      for (const item of items) {
        if (pulled) pulled.n++;
        yield item;
      }
    },
    async fetch(ref, ctx) {
      const r = behave(ref)(ctx.attempt);
      if (r instanceof RecpullError) throw r;
      return r;
    },
  };
}

const ref = (id: string): RecordingRef => ({ key: `mem:${id}`, vendor: 'mem', meta: { id } });
const wavBody = (id: string): FetchedBody => {
  const b = makeWav(id, 2000);
  return { body: Readable.from([b]), contentType: 'audio/wav', length: b.length };
};

/** The unhandled rejections while `fn` runs and 30 ms after it (by then a dropped one has surfaced). */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (err: unknown) => seen.push(err);
  process.on('unhandledRejection', onUnhandled);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 30));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return seen;
}

async function run(src: Source, extra: Partial<Parameters<typeof runDownloads>[1]> = {}) {
  const out = await tempDir();
  const events: RunEvent[] = [];
  const result = await runDownloads(src, {
    out,
    profile: 'test',
    concurrency: 2,
    retries: 3,
    retryBaseMs: 1,
    force: false,
    dryRun: false,
    metadata: false,
    signal: new AbortController().signal,
    emit: (e) => events.push(e),
    ...extra,
  });
  return { out, events, result };
}

describe('runDownloads', () => {
  it('retries retryable errors with the server-given delay, then succeeds', async () => {
    const { events, result, out } = await run(
      source(
        [ref('a')],
        (r) => (attempt) =>
          attempt < 3
            ? new RecpullError('E_RATE_LIMIT', 'slow down', { retryable: true, retryAfterMs: 5 })
            : wavBody(r.key),
      ),
    );
    expect(result.exitCode).toBe(0);
    const retries = events.filter((e) => e.type === 'item-retry');
    expect(retries.map((e) => (e as { delayMs: number }).delayMs)).toEqual([5, 5]);
    expect((await manifestLines(out))[0]).toMatchObject({ key: 'mem:a', status: 'done' });
  });

  it('does not retry a non-retryable error, and gives up after --retries', async () => {
    const { result, out } = await run(
      source(
        [ref('a'), ref('b')],
        (r) => () =>
          r.key === 'mem:a'
            ? new RecpullError('E_NOT_FOUND', 'gone')
            : new RecpullError('E_HTTP', 'HTTP 503', { retryable: true }),
      ),
    );
    expect(result.exitCode).toBe(1);
    const lines = await manifestLines(out);
    expect(lines.find((l) => l.key === 'mem:a')).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'E_NOT_FOUND' },
    });
    expect(lines.find((l) => l.key === 'mem:b')).toMatchObject({
      status: 'failed',
      attempts: 4,
      error: { code: 'E_HTTP' },
    });
  });

  it('stops the run at a full disk instead of failing every recording in turn', async () => {
    const items = Array.from({ length: 50 }, (_, i) => ref(String(i)));
    let fetches = 0;
    const { result, events } = await run(
      source(items, () => () => {
        fetches++;
        return new RecpullError('E_NO_SPACE', 'no space left');
      }),
    );
    expect(result.fatal?.code).toBe('E_NO_SPACE');
    expect(result.exitCode).toBe(1);
    expect(fetches).toBeLessThanOrEqual(2); // the two in flight at most
    expect(events.at(-1)).toMatchObject({ type: 'run-end' });
  });

  it('items started when the run stops are said, in one notice before run-end: an interrupt, a refused password', async () => {
    // two downloads under way (-j2) whose bodies never come, then an interrupt; or, once both have
    // begun, the server refuses the password to both
    const begun: string[] = [];
    const both = (fetch: (ctx: { signal: AbortSignal }) => Promise<FetchedBody>): Source => ({
      ...source([ref('a'), ref('b'), ref('c')], () => () => wavBody('x')),
      async fetch(r, ctx) {
        begun.push(r.key);
        while (begun.length < 2) await new Promise((res) => setTimeout(res, 2));
        return fetch(ctx);
      },
    });
    const stop = new AbortController();
    const interrupted = run(
      both(
        (ctx) =>
          new Promise<FetchedBody>((_, reject) =>
            ctx.signal.addEventListener('abort', () => reject(new RecpullError('E_ABORTED', 'interrupted'))),
          ),
      ),
      { signal: stop.signal },
    );
    while (begun.length < 2) await new Promise((r) => setTimeout(r, 2));
    stop.abort();
    const { result, events } = await interrupted;
    expect(result.interrupted).toBe(true);
    expect(result.counts).toMatchObject({ done: 0, failed: 0, skipped: 0 });
    const said = events.filter((e) => e.type === 'notice');
    expect(said).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: expect.stringMatching(/^2 recording\(s\) were started and left undone/),
      }),
    ]);
    expect(events.at(-2)).toBe(said[0]);
    expect(events.at(-1)).toMatchObject({ type: 'run-end' });

    begun.length = 0;
    const auth = await run(both(async () => Promise.reject(new RecpullError('E_AUTH', 'refused'))));
    expect(auth.result.exitCode).toBe(3);
    expect(auth.result.counts).toMatchObject({ done: 0, failed: 0, skipped: 0 });
    expect(auth.events.filter((e) => e.type === 'notice')).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/^2 recording/) }),
    ]);
  });

  it('maps ENOSPC and EDQUOT while writing to E_NO_SPACE, other disk errors to E_IO, the rest to the network', () => {
    const signal = new AbortController().signal;
    const errno = (code: string) => Object.assign(new Error(code), { code });
    expect(bodyError(errno('ENOSPC'), signal).code).toBe('E_NO_SPACE');
    expect(bodyError(errno('EDQUOT'), signal).code).toBe('E_NO_SPACE');
    expect(bodyError(errno('EACCES'), signal).code).toBe('E_IO');
    expect(bodyError(errno('ECONNRESET'), signal)).toMatchObject({ code: 'E_NETWORK', retryable: true });
  });

  it('counts unreadable input rows as failed, skips duplicate keys, and reads the source only a batch ahead', async () => {
    const pulled = { n: 0 };
    const items: (RecordingRef | InputRowError)[] = [
      ref('a'),
      { inputError: new RecpullError('E_INPUT', 'line 3: missing voicefilename'), line: 3 },
      ref('a'),
      ...Array.from({ length: 40 }, (_, i) => ref(`n${i}`)),
    ];
    let maxAhead = 0;
    let done = 0;
    const src = source(
      items,
      (r) => () => {
        maxAhead = Math.max(maxAhead, pulled.n - done);
        done++;
        return wavBody(r.key);
      },
      pulled,
    );
    const { result, events } = await run(src);
    expect(result.counts).toMatchObject({ done: 41, failed: 1 });
    expect(events.find((e) => e.type === 'item-failed')).toMatchObject({
      line: 3,
      error: { code: 'E_INPUT' },
    });
    expect(maxAhead).toBeLessThanOrEqual(2 * 2 + 3); // concurrency 2: at most a batch of 4 queued, plus the row error and the duplicate
    // the repeat of `a` is not counted, and said once before run-end
    const notices = events.filter((e) => e.type === 'notice');
    expect(notices).toEqual([
      expect.objectContaining({ level: 'info', message: expect.stringMatching(/^1 input row/) }),
    ]);
    expect(events.indexOf(notices[0] as RunEvent)).toBe(events.length - 2);
  });

  it('takes refs yielded in arrays like single ones: order, row errors, duplicates, the output lag, an abort', async () => {
    const items: (RecordingRef | InputRowError)[] = [
      ref('a'),
      { inputError: new RecpullError('E_INPUT', 'line 3: missing voicefilename'), line: 3 },
      ref('a'),
      ...Array.from({ length: 40 }, (_, i) => ref(`n${i}`)),
    ];
    const batched = (): Source => ({
      ...source(items, () => () => wavBody('x')),
      async *refs() {
        yield items.slice(0, 3);
        yield items[3] as RecordingRef; // a single item between arrays
        yield items.slice(4);
      },
    });
    // the output lags at every 7th check: nothing is handled until the lag settles
    let checks = 0;
    let handledDuringLag = 0;
    const events: RunEvent[] = [];
    const outputReady = () => {
      if (++checks % 7 !== 0) return undefined;
      const at = events.length;
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          handledDuringLag += events.length - at;
          resolve();
        }, 1),
      );
    };
    const { result } = await run(batched(), {
      dryRun: true,
      outputReady,
      emit: (e) => events.push(e),
    });
    expect(result.counts).toMatchObject({ wouldFetch: 41, failed: 1, skipped: 0 });
    expect(handledDuringLag).toBe(0);
    expect(checks).toBeGreaterThanOrEqual(43);
    const order = events.flatMap((e) =>
      e.type === 'item-skipped' || e.type === 'item-failed' ? [e.key] : [],
    );
    expect(order).toEqual(['mem:a', 'line 3', ...Array.from({ length: 40 }, (_, i) => `mem:n${i}`)]);

    // an abort in the middle of an array: no item after it is handled, and the counts say so
    const stop = new AbortController();
    const seen: RunEvent[] = [];
    const aborted = await run(batched(), {
      dryRun: true,
      signal: stop.signal,
      emit: (e) => {
        seen.push(e);
        if (e.type === 'item-skipped' && e.key === 'mem:n4') stop.abort();
      },
    });
    expect(aborted.result.interrupted).toBe(true);
    expect(aborted.result.counts.wouldFetch).toBe(6); // a, n0..n4
    expect(seen.filter((e) => e.type === 'item-skipped')).toHaveLength(6);
  });

  it('an interrupt while the source opens (a rate-limit wait): run-end, interrupted, no ref asked for, nothing unhandled', async () => {
    const stop = new AbortController();
    let asked = 0;
    const waiting: Source = {
      ...source([ref('a')], () => () => wavBody('a')),
      // like a sign-in waiting out an Auth penalty: settles only when the run's signal aborts
      open: ({ signal }) =>
        new Promise<void>((_, reject) =>
          signal.addEventListener('abort', () => reject(new RecpullError('E_ABORTED', 'interrupted'))),
        ),
      async *refs(signal: AbortSignal) {
        asked++;
        // like a listing whose next request waits for the same limiter: refuses at once once stopped
        if (signal.aborted) throw new RecpullError('E_ABORTED', 'interrupted');
        yield ref('a');
      },
    };
    const events: RunEvent[] = [];
    let result: Awaited<ReturnType<typeof run>>['result'] | undefined;
    const unhandled = await unhandledDuring(async () => {
      ({ result } = await run(waiting, {
        signal: stop.signal,
        emit: (e) => {
          events.push(e);
          if (e.type === 'run-start') setTimeout(() => stop.abort(), 5);
        },
      }));
    });
    expect(result?.interrupted).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', interrupted: true });
    expect(asked).toBe(0);
    expect(unhandled).toEqual([]);
  });

  it('untilAborted observes a promise it gives up on: a later rejection is not unhandled', async () => {
    const unhandled = await unhandledDuring(async () => {
      const stop = new AbortController();
      stop.abort();
      const late = new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 5));
      expect(await untilAborted(late, stop.signal)).toBeUndefined();
      const live = new AbortController();
      const later = new Promise((_, reject) => setTimeout(() => reject(new Error('later')), 10));
      const waited = untilAborted(later, live.signal);
      live.abort();
      expect(await waited).toBeUndefined();
    });
    expect(unhandled).toEqual([]);
  });

  it('claims --metadata sidecars through the path allocator: a.wav and a.mp3 of two keys never share a.json', async () => {
    const items = [ref('w'), ref('m')].map((r) => ({ ...r, meta: { id: 'a' } }));
    const { result, out } = await run(
      source(items, (r) => () => {
        if (r.key === 'mem:w') return wavBody('w');
        const b = makeMp3('m', 4000);
        return { body: Readable.from([b]), contentType: 'audio/mpeg', length: b.length, fields: { id: 'a' } };
      }),
      { metadata: true, concurrency: 1 },
    );
    expect(result.exitCode).toBe(0);
    const lines = await manifestLines(out);
    const paths = lines.map((l) => l.files.map((f) => f.path).sort());
    expect(paths).toEqual([
      ['a.json', 'a.wav'],
      ['a-2.json', 'a.mp3'],
    ]);
    const sidecars = lines.flatMap((l) =>
      l.files.filter((f) => f.path.endsWith('.json')).map((f) => [l.key, f.path]),
    );
    for (const [key, path] of sidecars)
      expect(JSON.parse(await readFile(join(out, path as string), 'utf8'))).toMatchObject({ key });
  });
});

describe('the run-end of a run stopped before it began (--json)', () => {
  it('carries the exit code and the redacted error; an interrupt is interrupted, without error', () => {
    registerSecret('Hunter2-secret-value');
    const locked = runEndOfError(new RecpullError('E_LOCKED', 'another run'), '/o');
    expect(locked).toMatchObject({ type: 'run-end', exitCode: 4, interrupted: false, out: '/o' });
    expect(locked.error).toEqual({ code: 'E_LOCKED', message: 'another run' });
    const config = runEndOfError(new RecpullError('E_CONFIG', 'password Hunter2-secret-value refused'), '/o');
    expect(config).toMatchObject({
      exitCode: 2,
      error: { code: 'E_CONFIG', message: 'password *** refused' },
    });
    const internal = runEndOfError(new TypeError('boom'), '/o');
    expect(internal).toMatchObject({ exitCode: 1, error: { code: 'E_INTERNAL', message: 'boom' } });
    const interrupt = runEndOfError(new Interrupt('SIGTERM'), '/o');
    expect(interrupt).toMatchObject({ exitCode: 143, interrupted: true });
    expect(interrupt).not.toHaveProperty('error');
    expect(runEndOfError(new RecpullError('E_ABORTED', 'interrupted'), '/o')).toMatchObject({
      exitCode: 130,
      interrupted: true,
    });
  });
});
