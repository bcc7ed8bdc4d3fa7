/**
 * One run, top to bottom: open the output folder (lock, manifest, crash recovery: src/core/recovery.ts),
 * open the source, read its refs lazily, skip what is done (the manifest index says so and its files are
 * present; a key seen before in this run is dropped), check each ref against the template, and hand the
 * rest to the queue (src/core/queue.ts: concurrency, retries, the per-item write path). On every way out
 * — done, failed items, a fatal error, an interrupt, a source that throws — the queue settles, the refs
 * iterator is closed, `Source.close` runs under its deadline, the lock is released, and `run-end` is
 * emitted with the counts. Never exits the process.
 */
import type { AttemptDeadlineOptions } from './deadline.js';
import { EXIT, exitCodeFor, Interrupt, RecpullError, toRecpullError } from './errors.js';
import { type EventSink, emptyCounts, now, type RunCounts } from './events.js';
import { type PresenceOptions, PresencePipeline } from './presence.js';
import { errorInfo, type ItemContext, recordFailure, runItem, untilAborted, WorkQueue } from './queue.js';
import { openFolder } from './recovery.js';
import { isInputRowError, type RecordingRef, type RefItem, type RunOutcome, type Source } from './source.js';
import {
  checkTemplate,
  isBlank,
  missingField,
  renderTemplate,
  rendersSomething,
  templateFields,
} from './template.js';
import { itemField, itemFields } from './write-context.js';

export { errorInfo };

/** Options of a run. Times in ms. */
export interface RunOptions {
  out: string;
  profile: string;
  concurrency: number;
  template?: string;
  /** Retries after the first attempt for retryable errors (default 5). */
  retries: number;
  /** Base and cap of the exponential backoff, ms (defaults 1000 and 60 000). */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** `E_NOT_READY` is retried (beyond `retries`) until this much time passed since the first attempt. */
  notReadyWaitMs?: number;
  /** How long `Source.close` may take before the run ends anyway, ms (default 10 000). */
  closeDeadlineMs?: number;
  /** Largest file accepted, bytes (default 2 GiB); a body growing past it fails its item (`E_TOO_LARGE`). */
  maxBytes?: number;
  /** Each attempt's deadline: `baseMs` plus the time its known size needs (src/core/deadline.ts). */
  attemptDeadline?: AttemptDeadlineOptions;
  force: boolean;
  dryRun: boolean;
  /** Write `<file>.json` with the vendor's record beside each recording. */
  metadata: boolean;
  /**
   * Stops the run. Its abort reason decides how: an `Interrupt` (a signal) ends it as interrupted with
   * that signal's exit code; a `RecpullError` ends it as that run-level error; anything else as Ctrl-C.
   */
  signal: AbortSignal;
  emit: EventSink;
  /** Fields the input list may add beyond the vendor's own (allows them in the template). */
  allowExtraFields?: boolean;
  /**
   * Output backpressure: a promise while the events' reader lags (the run reads no further ref until it
   * settles, so a slow `--json` reader cannot make memory grow), or undefined to go on.
   */
  outputReady?: () => Promise<void> | undefined;
  /** When the skip pass moves its `stat`s to a worker thread, and in what batches (tests set them low). */
  presence?: PresenceOptions;
  /**
   * The object the run keeps its counts in (all zero when given), for a caller that needs them before
   * `run-end`: the CLI writes a `run-end` of its own when a second Ctrl-C exits at once. Default: a new one.
   */
  counts?: RunCounts;
}

/** The notice for `n` recordings started and then given up when the run stopped (counted nowhere). */
export function leftUndoneMessage(n: number): string {
  return `${n} recording(s) were started and left undone when the run stopped; they are not counted, and the next run fetches them`;
}

/** The result of a run. */
export interface RunResult {
  counts: RunCounts;
  exitCode: number;
  interrupted: boolean;
  /** Set when the run stopped for a run-level error (auth, lock); the CLI prints it. */
  fatal?: RecpullError;
}

/**
 * Runs `source` to completion (or interruption). Throws only for errors before anything was attempted
 * (`E_LOCKED`, `E_IO` on the state folder, `E_USAGE` for a bad template); everything later is in the result
 * and in the `run-end` event.
 */
export async function runDownloads(source: Source, opts: RunOptions): Promise<RunResult> {
  const template = opts.template ?? source.defaultTemplate;
  checkTemplate(template, ['vendor', 'ext', 'key', ...source.fields], opts.allowExtraFields ?? false);
  const started = Date.now();
  const counts: RunCounts = opts.counts ?? emptyCounts();
  const { emit } = opts;
  const stop = new AbortController();
  let fatal: RecpullError | undefined;
  const fail = (err: RecpullError) => {
    fatal ??= err; // the first run-level error is the one reported
    stop.abort();
  };
  const onAbort = () => {
    const reason: unknown = opts.signal.reason;
    if (reason instanceof RecpullError) fail(reason);
    else stop.abort();
  };
  const folder = await openFolder({
    out: opts.out,
    dryRun: opts.dryRun,
    emit,
    onLockLost: fail,
    signal: opts.signal,
  });
  if (opts.signal.aborted) onAbort();
  else opts.signal.addEventListener('abort', onAbort, { once: true });

  emit({
    type: 'run-start',
    at: now(),
    vendor: source.vendor,
    profile: opts.profile,
    out: opts.out,
    concurrency: opts.concurrency,
    dryRun: opts.dryRun,
  });
  const items: ItemContext = {
    source,
    write: {
      out: opts.out,
      template,
      metadata: opts.metadata,
      ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
      journal: folder.journal as NonNullable<typeof folder.journal>,
      paths: folder.paths,
      signal: stop.signal,
    },
    manifest: folder.manifest,
    emit,
    counts,
    retries: opts.retries,
    fail,
    ...(opts.attemptDeadline ? { deadline: opts.attemptDeadline } : {}),
    ...(opts.retryBaseMs !== undefined ? { retryBaseMs: opts.retryBaseMs } : {}),
    ...(opts.retryCapMs !== undefined ? { retryCapMs: opts.retryCapMs } : {}),
    ...(opts.notReadyWaitMs !== undefined ? { notReadyWaitMs: opts.notReadyWaitMs } : {}),
  };
  const fieldCheck = {
    needed: templateFields(template).filter((f) => f !== 'ext'), // `ext` is known once fetched
    renders: rendersSomething(template),
  };
  const queue = new WorkQueue(opts.concurrency, opts.concurrency * 2, stop.signal);
  items.defer = (finishing) => queue.defer(finishing);
  /** Items started and then given up when the run stopped: counted nowhere, said once at the end. */
  let undone = 0;
  items.leftUndone = () => undone++;
  /**
   * Skips, fails or queues one ref; `present` is true for a done key whose files are all on disk (the
   * presence checks said so), which is skipped. A promise only when there is something to wait for (a
   * skip, the common case of a nightly re-run, costs no promise and no turn of the microtask queue).
   */
  const handle = (item: RefItem, present: boolean): Promise<void> | undefined => {
    if (isInputRowError(item))
      return recordFailure({ key: `line ${item.line}`, line: item.line }, item.inputError, 0, items);
    if (present) {
      counts.skipped++;
      emit({ type: 'item-skipped', at: now(), key: item.key, reason: 'done' });
      return;
    }
    const unusable = templateProblem(template, fieldCheck, item);
    if (unusable) return recordFailure(item, unusable, 0, items);
    if (opts.dryRun) {
      counts.wouldFetch++;
      emit({ type: 'item-skipped', at: now(), key: item.key, reason: 'dry-run' });
      return;
    }
    return queue.push(() => runItem(item, items));
  };
  // done keys whose files are to be checked, handed back in input order (src/core/presence.ts)
  const presence = new PresencePipeline<RecordingRef>(opts.out, handle, opts.presence);
  const flushPresence = async (): Promise<void> => {
    const flushed = presence.flush();
    if (flushed) await untilAborted(flushed, stop.signal);
  };
  let refs: AsyncIterator<unknown> | undefined;
  let opened = false;
  /** Refs of a recording already met in this run: not counted again, said once at the end. */
  let repeats = 0;
  try {
    if (!stop.signal.aborted) {
      opened = true;
      if (source.open) await untilAborted(source.open({ signal: stop.signal, emit, fail }), stop.signal);
    }
    const iterator = source.refs(stop.signal)[Symbol.asyncIterator]();
    refs = iterator;
    /** A promise while the output lags: no further ref is read or handled until it settles. */
    const outputLag = (): Promise<unknown> | undefined => {
      const lagging = opts.outputReady?.();
      return lagging && untilAborted(lagging, stop.signal);
    };
    for (;;) {
      const lag = outputLag();
      if (lag) await lag;
      // stopped (during `open`, a lag or the last array): no more refs are asked for
      if (stop.signal.aborted) break;
      presence.beforeWait(); // a source that makes the run wait gets what is pending handed over
      const next = await untilAborted(iterator.next(), stop.signal);
      const flushedMeanwhile = presence.afterWait();
      if (flushedMeanwhile) await untilAborted(flushedMeanwhile, stop.signal);
      if (next === undefined || next.done) break;
      const value = next.value;
      const batch: readonly RefItem[] = Array.isArray(value) ? value : [value as RefItem];
      for (let i = 0; i < batch.length && !stop.signal.aborted; i++) {
        const item = batch[i] as RefItem;
        const lag = i > 0 ? outputLag() : undefined; // the first was waited for before reading
        if (lag) await lag;
        if (!isInputRowError(item)) {
          // the same recording twice in one input: only the first counts (the index keeps the keys seen)
          const found = folder.index.lookup(item.key);
          if (!found.first) {
            repeats++;
            continue;
          }
          let prev = found.entry;
          // a dry run after a crash: a file the real run would adopt first is skipped as it would be
          const adoptable = prev?.status === 'done' ? undefined : folder.adoptable?.get(item.key);
          if (adoptable) prev = { status: 'done', files: adoptable, pos: 0, len: 0 };
          if (!opts.force && prev?.status === 'done') {
            const waiting = presence.add(item, prev.files);
            if (waiting) await untilAborted(waiting, stop.signal);
            continue;
          }
        }
        if (presence.pending > 0) await flushPresence(); // everything read before this item goes first
        const handled = handle(item, false);
        if (handled) await handled;
      }
    }
    if (presence.pending > 0) await flushPresence();
  } catch (raw) {
    const err = toRecpullError(raw, 'E_IO');
    // done keys read before a source error are still counted as skipped
    if (err.code !== 'E_ABORTED' && !stop.signal.aborted && presence.pending > 0)
      await flushPresence().catch(() => {});
    if (err.code === 'E_ABORTED') stop.abort();
    else fail(err);
  } finally {
    presence.close();
    await queue.settle();
    if (refs && stop.signal.aborted) await settleWithin(refs.return?.(), 2000);
    opts.signal.removeEventListener('abort', onAbort);
  }
  const reason: unknown = opts.signal.reason;
  const interrupted = opts.signal.aborted && !(reason instanceof RecpullError);
  const ok = !interrupted && fatal === undefined && counts.failed === 0;
  if (opened && source.close)
    await closeSource(source, { ok, interrupted }, opts.closeDeadlineMs ?? 10_000, emit);
  if (ok) await folder.journal?.clear();
  await folder.manifest?.close().catch(() => {});
  await folder.release().catch(() => {});
  const exitCode = interrupted
    ? reason instanceof Interrupt
      ? reason.exitCode
      : EXIT.INTERRUPTED
    : fatal
      ? exitCodeFor(fatal)
      : counts.failed > 0
        ? EXIT.ITEM_FAILED
        : EXIT.OK;
  // what run-end's counts leave out, said last before it (after the source's own closing notices)
  if (undone > 0) {
    emit({
      type: 'notice',
      at: now(),
      level: 'warn',
      message: leftUndoneMessage(undone),
    });
  }
  if (repeats > 0) {
    emit({
      type: 'notice',
      at: now(),
      level: 'info',
      message: `${repeats} input row(s) named a recording already met in this run and were not counted again`,
    });
  }
  emit({
    type: 'run-end',
    at: now(),
    counts,
    ms: Date.now() - started,
    exitCode,
    interrupted,
    out: opts.out,
    ...(fatal && !interrupted ? { error: errorInfo(fatal) } : {}),
  });
  return { counts, exitCode, interrupted, ...(fatal ? { fatal } : {}) };
}

/**
 * Why `ref` cannot be written with `template` before anything is requested for it (`E_INPUT`, naming the
 * line): a field the template needs (`needed`: its fields but `ext`) is missing or empty, or the template
 * renders to nothing (`renders` false). Undefined when the ref renders, or when its fields are only
 * learned by the fetch (`ref.fieldsAtFetch`). The fields are looked up one by one (`itemField`), not
 * rendered into a path: a dry run over 100 000 rows spent a third of its time building paths it threw away.
 */
function templateProblem(
  template: string,
  { needed, renders }: { needed: string[]; renders: boolean },
  ref: RecordingRef,
): RecpullError | undefined {
  if (ref.fieldsAtFetch) return undefined;
  const missing = needed.find((name) => isBlank(itemField(ref, name)));
  let problem = missing === undefined ? undefined : missingField(missing);
  if (!problem && !renders) {
    try {
      renderTemplate(template, { ...itemFields(ref), ext: 'wav' });
    } catch (err) {
      problem = toRecpullError(err, 'E_TEMPLATE');
    }
  }
  if (!problem) return undefined;
  const where = ref.line ? `line ${ref.line}: ` : '';
  return new RecpullError('E_INPUT', `${where}${problem.message}`, { key: ref.key });
}

/**
 * Calls `source.close` and waits for it at most `deadlineMs`; past that the run ends anyway with a warning
 * saying what did not close (the close's signal fires so it can abandon its requests). Errors are warnings.
 */
async function closeSource(
  source: Source,
  outcome: RunOutcome,
  deadlineMs: number,
  emit: EventSink,
): Promise<void> {
  const deadline = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      deadline.abort();
      resolve('timeout');
    }, deadlineMs);
  });
  try {
    const result = await Promise.race([
      Promise.resolve()
        .then(() => source.close?.(outcome, deadline.signal))
        .then(() => 'closed' as const),
      timedOut,
    ]);
    if (result === 'timeout') {
      emit({
        type: 'notice',
        at: now(),
        level: 'warn',
        message: `${source.vendor}: closing the session did not finish within ${Math.round(deadlineMs / 1000)} s (sign-out, revoke or cursor not confirmed); the run ends anyway`,
      });
    }
  } catch (raw) {
    emit({
      type: 'notice',
      at: now(),
      level: 'warn',
      message: `${source.vendor}: closing the session failed: ${errorInfo(toRecpullError(raw, 'E_IO')).message}`,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `promise` (errors ignored) at most `ms`. */
async function settleWithin(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!promise) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
