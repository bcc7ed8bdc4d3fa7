/**
 * The queue: at most `concurrency` items at once (p-limit), the source read at most one batch ahead of the
 * workers, and each item's attempts under the shared retry policy (src/core/request-policy.ts) — retryable
 * errors with backoff and `Retry-After`, "not ready yet" retried for a time, fatal errors stopping the run.
 * Every item ends in exactly one of: a `done` manifest line and `item-done`, a `failed` line and
 * `item-failed`, or nothing because the run was stopped (interrupted or fatal).
 */
import pLimit from 'p-limit';
import { AttemptDeadline, type AttemptDeadlineOptions } from './deadline.js';
import { RecpullError, toRecpullError } from './errors.js';
import { type ErrorInfo, type EventSink, now, type RunCounts } from './events.js';
import type { Manifest } from './manifest.js';
import { redact } from './redact.js';
import { withRetries } from './request-policy.js';
import { discardPart, type PartState } from './sink.js';
import type { FetchedBody, RecordingRef, Source } from './source.js';
import { disposeBody, type WriteContext } from './write-context.js';
import { writeItem } from './write-item.js';

/** Errors that stop the whole run: every other recording would fail the same way. */
export const FATAL_CODES: ReadonlySet<string> = new Set([
  'E_AUTH',
  'E_PERMISSION',
  'E_CONFIG',
  'E_USAGE',
  'E_NO_SPACE',
]);

const PROGRESS_EVERY_MS = 250;

/** What every item of a run shares. Times in ms. */
export interface ItemContext {
  source: Source;
  write: Omit<WriteContext, 'onProgress'>;
  manifest: Manifest | undefined;
  emit: EventSink;
  counts: RunCounts;
  retries: number;
  retryBaseMs?: number;
  retryCapMs?: number;
  /** `E_NOT_READY` is retried (beyond `retries`) until this long after the item's first attempt (default 5 min). */
  notReadyWaitMs?: number;
  /** Stops the run with a run-level error (the first one wins). */
  fail(err: RecpullError): void;
  /** The deadline of each attempt (src/core/deadline.ts). */
  deadline?: AttemptDeadlineOptions;
  /**
   * Takes an item's last step (its manifest line and `item-done`) to finish outside the concurrency slot;
   * the run waits for it before it ends. Without it the step is awaited in the slot.
   */
  defer?(finishing: Promise<void>): void;
  /**
   * Called once for an item that was started (its `item-start` emitted) and then given up because the run
   * stopped (interrupted, or a run-level error such as `E_AUTH`): it is counted nowhere, and the run says
   * how many there were before `run-end`.
   */
  leftUndone?(): void;
}

/** The error as events and the manifest show it, with secrets redacted. */
export function errorInfo(err: RecpullError): ErrorInfo {
  const info = err.toJSON();
  info.message = redact(info.message);
  return info;
}

/** Downloads one recording with its retries and records the outcome (see the module comment). Never throws. */
export async function runItem(ref: RecordingRef, ctx: ItemContext): Promise<void> {
  const { emit, write } = ctx;
  const signal = write.signal;
  const itemStart = Date.now();
  const state: PartState = { bytes: 0, resumable: false };
  let attempts = 0;
  let started = false;
  try {
    const files = await withRetries(
      async (attempt) => {
        attempts = attempt;
        if (signal.aborted) throw new RecpullError('E_ABORTED', 'interrupted');
        emit({ type: 'item-start', at: now(), key: ref.key, attempt });
        started = true;
        const deadline = new AttemptDeadline(signal, ctx.deadline);
        try {
          const fetched = await abandonOnAbort(
            ctx.source.fetch(ref, {
              signal: deadline.signal,
              attempt,
              ...(state.resumable && state.bytes > 0
                ? { resume: { offset: state.bytes, ...(state.etag ? { etag: state.etag } : {}) } }
                : {}),
            }),
            deadline.signal,
          );
          if (fetched.length !== undefined) deadline.sizeKnown(fetched.length);
          let lastProgress = 0;
          return await writeItem(ref, fetched, state, {
            ...write,
            signal: deadline.signal,
            onProgress: (bytes, total) => {
              const t = Date.now();
              if (t - lastProgress < PROGRESS_EVERY_MS) return;
              lastProgress = t;
              emit({
                type: 'item-progress',
                at: now(),
                key: ref.key,
                bytes,
                ...(total !== undefined ? { total } : {}),
              });
            },
          });
        } catch (err) {
          throw deadline.explain(err);
        } finally {
          deadline.dispose();
        }
      },
      {
        retries: ctx.retries,
        signal,
        ...(ctx.retryBaseMs !== undefined ? { baseMs: ctx.retryBaseMs } : {}),
        ...(ctx.retryCapMs !== undefined ? { capMs: ctx.retryCapMs } : {}),
        mayRetry: (err, attempt) =>
          !FATAL_CODES.has(err.code) &&
          (attempt <= ctx.retries ||
            (err.code === 'E_NOT_READY' && Date.now() - itemStart < (ctx.notReadyWaitMs ?? 300_000))),
        onRetry: (err, attempt, delayMs) => {
          err.key ??= ref.key;
          emit({ type: 'item-retry', at: now(), key: ref.key, attempt, delayMs, error: errorInfo(err) });
        },
      },
    );
    // The files are whole, fsynced and in place: the manifest line (a grouped datasync) is written after
    // the worker's slot is given back, so the next download does not wait for it.
    const finish = async () => {
      try {
        await ctx.manifest?.append({ key: ref.key, status: 'done', files, attempts, at: now() });
      } catch (raw) {
        const err = toRecpullError(raw, 'E_IO');
        err.key ??= ref.key;
        await recordFailure(ref, err, attempts, ctx);
        return;
      }
      ctx.counts.done++;
      ctx.counts.bytes += files.reduce((n, f) => n + f.bytes, 0);
      emit({ type: 'item-done', at: now(), key: ref.key, files, attempts, ms: Date.now() - itemStart });
    };
    if (ctx.defer) ctx.defer(finish());
    else await finish();
  } catch (raw) {
    const err = toRecpullError(raw, 'E_IO');
    err.key ??= ref.key;
    await discardPart(write.out, state);
    // the run is stopping, or this error stops it: not this item's failure
    const stopping = signal.aborted || err.code === 'E_ABORTED';
    if (stopping || FATAL_CODES.has(err.code)) {
      if (!stopping) ctx.fail(err);
      if (started) ctx.leftUndone?.();
      return;
    }
    if (state.rel) write.paths.release(state.rel, ref.key);
    await recordFailure(ref, err, Math.max(attempts, 1), ctx);
  }
}

/**
 * The fetch's result, or `E_ABORTED` as soon as the run stops: a fetch that ignores its signal must not
 * hold the run open. A body that arrives after the stop is released.
 */
async function abandonOnAbort(fetch: Promise<FetchedBody>, signal: AbortSignal): Promise<FetchedBody> {
  const body = await untilAborted(fetch, signal);
  if (body !== undefined) return body;
  void fetch.then(disposeBody, () => {});
  throw new RecpullError('E_ABORTED', 'interrupted');
}

/**
 * Callbacks waiting for a signal's abort, one Set per signal behind a single `abort` listener: adding and
 * removing an EventTarget listener per wait cost more than the skip pass's lookup of a ref (the run waits
 * for every ref of the input this way).
 */
const abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();

function waitersOf(signal: AbortSignal): Set<() => void> {
  let set = abortWaiters.get(signal);
  if (!set) {
    const waiting = new Set<() => void>();
    set = waiting;
    abortWaiters.set(signal, waiting);
    signal.addEventListener(
      'abort',
      () => {
        for (const wake of waiting) wake();
        waiting.clear();
      },
      { once: true },
    );
  }
  return set;
}

/**
 * Resolves with `promise`'s value, or with undefined as soon as `signal` aborts (a pipe may never end).
 * A rejection of `promise` after the abort is observed and dropped, never left unhandled: an interrupted
 * source rejects what it was doing (a rate-limit wait throws `E_ABORTED`), and Node would end the process
 * with an unhandled rejection instead of the run's `run-end` and exit 130.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.resolve(undefined);
  }
  const waiters = waitersOf(signal);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    waiters.add(onAbort);
    promise.then(
      (v) => {
        waiters.delete(onAbort);
        resolve(v);
      },
      (e) => {
        waiters.delete(onAbort);
        reject(e);
      },
    );
  });
}

/** Counts `ref` as failed: a `failed` manifest line (best effort) and `item-failed`. */
export async function recordFailure(
  ref: Pick<RecordingRef, 'key' | 'line'>,
  err: RecpullError,
  attempts: number,
  ctx: Pick<ItemContext, 'manifest' | 'emit' | 'counts'>,
): Promise<void> {
  const info = errorInfo(err);
  await ctx.manifest
    ?.append({ key: ref.key, status: 'failed', files: [], attempts, error: info, at: now() })
    .catch(() => {});
  ctx.counts.failed++;
  ctx.emit({
    type: 'item-failed',
    at: now(),
    key: ref.key,
    attempts,
    error: info,
    ...(ref.line ? { line: ref.line } : {}),
  });
}

/**
 * Bounded concurrency with read-ahead: `push` starts a task under the limit and resolves once fewer than
 * `readAhead` tasks are queued or running (or the signal fired), so the caller reads its source at the
 * workers' pace. Tasks must not throw.
 */
export class WorkQueue {
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly deferred = new Set<Promise<void>>();
  private wake: (() => void) | undefined;

  constructor(
    concurrency: number,
    private readonly readAhead: number,
    private readonly signal: AbortSignal,
  ) {
    this.limit = pLimit(concurrency);
    signal.addEventListener('abort', () => this.wakeUp(), { once: true });
  }

  /** Starts `task` under the limit; resolves when there is room for the next one. */
  async push(task: () => Promise<void>): Promise<void> {
    const p: Promise<void> = this.limit(task).finally(() => {
      this.inFlight.delete(p);
      this.wakeUp();
    });
    this.inFlight.add(p);
    while (this.inFlight.size >= this.readAhead && !this.signal.aborted) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Tracks work that finishes outside the limit (see `ItemContext.defer`); `settle` waits for it too. */
  defer(finishing: Promise<void>): void {
    this.deferred.add(finishing);
    void finishing.catch(() => {}).finally(() => this.deferred.delete(finishing));
  }

  /** Resolves when every task pushed so far, and what they deferred, has settled. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    while (this.deferred.size > 0) await Promise.allSettled([...this.deferred]);
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
