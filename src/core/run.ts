/**
 * One run: lock the output folder, replay the manifest, sweep stale `.part` files, then pull the source's
 * refs lazily through a bounded-concurrency queue (p-limit) with retries, writing each recording through
 * the sink and recording it in the manifest. Emits the events of src/core/events.ts; never exits the process.
 */
import { mkdir, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { EXIT, exitCodeFor, RecpullError, toRecpullError } from './errors.js';
import { type EventSink, now, type RunCounts } from './events.js';
import { PartJournal } from './journal.js';
import { acquireLock } from './lock.js';
import { type FileRecord, Manifest, type ManifestRecord, readManifest, stateDir } from './manifest.js';
import { insideOut, PathAllocator } from './paths.js';
import { redact } from './redact.js';
import { retryDelay } from './retry-timing.js';
import { discardPart, type PartState, writeRecording, writeSmallFile } from './sink.js';
import { isInputRowError, type RecordingRef, type Source } from './source.js';
import { checkTemplate, renderTemplate } from './template.js';

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
  force: boolean;
  dryRun: boolean;
  /** Write `<file>.json` with the vendor's record beside each recording. */
  metadata: boolean;
  /** Interrupts the run (Ctrl-C). */
  signal: AbortSignal;
  emit: EventSink;
  /** Fields the input list may add beyond the vendor's own (allows them in the template). */
  allowExtraFields?: boolean;
}

/** The result of a run. */
export interface RunResult {
  counts: RunCounts;
  exitCode: number;
  interrupted: boolean;
  /** Set when the run stopped for a run-level error (auth, lock); the CLI prints it. */
  fatal?: RecpullError;
}

/** Errors that stop the whole run: every other recording would fail the same way. */
const FATAL_CODES = new Set(['E_AUTH', 'E_PERMISSION', 'E_CONFIG', 'E_USAGE', 'E_NO_SPACE']);
const PROGRESS_EVERY_MS = 250;

/**
 * Runs `source` to completion (or interruption). Throws only for errors before anything was attempted
 * (`E_LOCKED`, `E_IO` on the state folder, `E_USAGE` for a bad template); everything later is in the result.
 */
export async function runDownloads(source: Source, opts: RunOptions): Promise<RunResult> {
  const template = opts.template ?? source.defaultTemplate;
  const known = ['vendor', 'ext', 'key', ...source.fields];
  checkTemplate(template, known, opts.allowExtraFields ?? false);
  const started = Date.now();
  const counts: RunCounts = { done: 0, skipped: 0, failed: 0, bytes: 0 };
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  let fatal: RecpullError | undefined;
  const emit = opts.emit;

  let manifest: Manifest | undefined;
  let release: (() => Promise<void>) | undefined;
  let journal: PartJournal | undefined;
  let records: Map<string, ManifestRecord>;
  if (opts.dryRun) {
    records = (await readManifest(opts.out)).records; // look, touch nothing
  } else {
    try {
      await mkdir(stateDir(opts.out), { recursive: true });
    } catch (err) {
      throw new RecpullError('E_IO', `cannot create ${stateDir(opts.out)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    release = await acquireLock(opts.out, (err) => {
      fatal = new RecpullError('E_LOCKED', `lost the lock of ${opts.out}: ${err.message}`);
      stop.abort();
    });
    try {
      manifest = await Manifest.open(opts.out);
      journal = new PartJournal(opts.out);
      const m = manifest;
      const { removed, recovered } = await journal.recover((key) => m.get(key)?.status === 'done');
      for (const { key, file } of recovered) {
        await m.append({ key, status: 'done', files: [file], attempts: 0, at: now() });
      }
      if (removed + recovered.length > 0) {
        emit({
          type: 'notice',
          at: now(),
          level: 'info',
          message: `an interrupted run left ${removed} .part file(s), now removed, and ${recovered.length} whole file(s), now recorded as done`,
        });
      }
    } catch (err) {
      await release();
      throw err;
    }
    records = manifest.records;
    if (manifest.badLines.length > 0) {
      emit({
        type: 'notice',
        at: now(),
        level: 'warn',
        message: `manifest lines ${manifest.badLines.join(', ')} are unreadable and were ignored`,
      });
    }
  }
  const owned: [string, string][] = [];
  for (const rec of records.values()) {
    if (rec.status === 'done') for (const f of rec.files) owned.push([f.path, rec.key]);
  }
  const paths = new PathAllocator(opts.out, owned);

  emit({
    type: 'run-start',
    at: now(),
    vendor: source.vendor,
    profile: opts.profile,
    out: opts.out,
    concurrency: opts.concurrency,
    dryRun: opts.dryRun,
  });

  const limit = pLimit(opts.concurrency);
  const inFlight = new Set<Promise<void>>();
  const seen = new Set<string>();

  const runItem = async (ref: RecordingRef): Promise<void> => {
    const itemStart = Date.now();
    const state: PartState = { bytes: 0, resumable: false };
    let attempt = 0;
    for (;;) {
      attempt++;
      if (stop.signal.aborted) return;
      emit({ type: 'item-start', at: now(), key: ref.key, attempt });
      let lastProgress = 0;
      try {
        const fetched = await source.fetch(ref, {
          signal: stop.signal,
          attempt,
          ...(state.resumable && state.bytes > 0
            ? { resume: { offset: state.bytes, ...(state.etag ? { etag: state.etag } : {}) } }
            : {}),
        });
        const file = await writeRecording({
          out: opts.out,
          fetched,
          state,
          journal: journal as PartJournal,
          key: ref.key,
          signal: stop.signal,
          claimPath: (ext) =>
            paths.claim(
              renderTemplate(template, { ...ref.meta, vendor: ref.vendor, key: ref.key, ext }),
              ref.key,
            ),
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
        const files: FileRecord[] = [file];
        if (opts.metadata) {
          const sidecar = `${file.path.replace(/\.[^./]+$/, '')}.json`;
          const body = `${JSON.stringify(ref.record ?? { key: ref.key, ...ref.meta }, null, 2)}\n`;
          files.push(await writeSmallFile(opts.out, sidecar, redact(body), 'application/json'));
        }
        await manifest?.append({ key: ref.key, status: 'done', files, attempts: attempt, at: now() });
        counts.done++;
        counts.bytes += files.reduce((n, f) => n + f.bytes, 0);
        emit({
          type: 'item-done',
          at: now(),
          key: ref.key,
          files,
          attempts: attempt,
          ms: Date.now() - itemStart,
        });
        return;
      } catch (raw) {
        const err = toRecpullError(raw, 'E_IO');
        err.key ??= ref.key;
        if (stop.signal.aborted || err.code === 'E_ABORTED') {
          await discardPart(opts.out, state);
          return;
        }
        if (FATAL_CODES.has(err.code)) {
          await discardPart(opts.out, state);
          fatal ??= err;
          stop.abort();
          return;
        }
        const elapsed = Date.now() - itemStart;
        const notReadyBudget = err.code === 'E_NOT_READY' && elapsed < (opts.notReadyWaitMs ?? 300_000);
        if (err.retryable && (attempt <= opts.retries || notReadyBudget)) {
          const delayMs = retryDelay({
            attempt,
            baseMs: opts.retryBaseMs ?? 1000,
            capMs: opts.retryCapMs ?? 60_000,
            ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
          });
          emit({ type: 'item-retry', at: now(), key: ref.key, attempt, delayMs, error: errorInfo(err) });
          try {
            await sleep(delayMs, undefined, { signal: stop.signal });
          } catch {
            await discardPart(opts.out, state);
            return;
          }
          continue;
        }
        await discardPart(opts.out, state);
        if (state.rel) paths.release(state.rel, ref.key);
        const info = errorInfo(err);
        await manifest
          ?.append({ key: ref.key, status: 'failed', files: [], attempts: attempt, error: info, at: now() })
          .catch(() => {});
        counts.failed++;
        emit({
          type: 'item-failed',
          at: now(),
          key: ref.key,
          attempts: attempt,
          error: info,
          ...(ref.line ? { line: ref.line } : {}),
        });
        return;
      }
    }
  };

  let interrupted: boolean;
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stop.signal.addEventListener('abort', wakeUp, { once: true });
  try {
    await source.open?.({
      signal: stop.signal,
      emit,
      fail: (err) => {
        fatal ??= err;
        stop.abort();
      },
    });
    const refs = source.refs(stop.signal)[Symbol.asyncIterator]();
    for (;;) {
      const next = await untilAborted(refs.next(), stop.signal);
      if (next === undefined || next.done) break;
      const item = next.value;
      if (isInputRowError(item)) {
        counts.failed++;
        emit({
          type: 'item-failed',
          at: now(),
          key: `line ${item.line}`,
          attempts: 0,
          error: errorInfo(item.inputError),
          line: item.line,
        });
        continue;
      }
      if (seen.has(item.key)) continue; // the same recording twice in one input
      seen.add(item.key);
      const prev = records.get(item.key);
      if (!opts.force && prev?.status === 'done' && (await filesPresent(opts.out, prev.files))) {
        counts.skipped++;
        emit({ type: 'item-skipped', at: now(), key: item.key, reason: 'done' });
        continue;
      }
      if (opts.dryRun) {
        counts.skipped++;
        emit({ type: 'item-skipped', at: now(), key: item.key, reason: 'dry-run' });
        continue;
      }
      const p: Promise<void> = limit(() => runItem(item)).finally(() => {
        inFlight.delete(p);
        wakeUp();
      });
      inFlight.add(p);
      // Backpressure: read the source at most one batch ahead of the workers.
      while (inFlight.size >= opts.concurrency * 2 && !stop.signal.aborted) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
  } catch (raw) {
    const err = toRecpullError(raw, 'E_IO');
    if (err.code !== 'E_ABORTED') fatal ??= err; // the first run-level error is the one reported
    stop.abort();
  } finally {
    await Promise.allSettled([...inFlight]);
    interrupted = opts.signal.aborted;
    const ok = !interrupted && fatal === undefined && counts.failed === 0;
    await source.close?.({ ok, interrupted }, AbortSignal.timeout(10_000)).catch(() => {});
    if (ok) await journal?.clear();
    await manifest?.close().catch(() => {});
    await release?.();
    opts.signal.removeEventListener('abort', onAbort);
  }
  const exitCode = interrupted
    ? EXIT.INTERRUPTED
    : fatal
      ? exitCodeFor(fatal)
      : counts.failed > 0
        ? EXIT.ITEM_FAILED
        : EXIT.OK;
  emit({
    type: 'run-end',
    at: now(),
    counts,
    ms: Date.now() - started,
    exitCode,
    interrupted,
    out: opts.out,
  });
  return { counts, exitCode, interrupted, ...(fatal ? { fatal } : {}) };
}

/** The error as events and the manifest show it, with secrets redacted. */
export function errorInfo(err: RecpullError) {
  const info = err.toJSON();
  info.message = redact(info.message);
  return info;
}

/** Resolves with `promise`'s value, or with undefined as soon as `signal` aborts (a pipe may never end). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

async function filesPresent(out: string, files: FileRecord[]): Promise<boolean> {
  for (const f of files) {
    try {
      const s = await stat(insideOut(out, f.path));
      if (s.size !== f.bytes) return false;
    } catch {
      return false;
    }
  }
  return true;
}
