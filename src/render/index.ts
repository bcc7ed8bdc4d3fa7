/**
 * Renderers: one event stream, three outputs. `--json` → NDJSON on stdout; a TTY on stderr → a progress
 * bar; otherwise plain lines (one per finished item, a summary every 10 s: nothing that floods cron mail).
 * Every renderer implements `EventHandlers`, so a new event type is a compile error until handled.
 */
import { dispatch, type EventHandlers, type EventSink, type RunEvent } from '../core/events.js';
import { redact } from '../core/redact.js';
import { jsonHandlers } from './json.js';
import { plainHandlers } from './plain.js';
import { progressHandlers } from './progress.js';

/** Output settings from the shared flags. */
export interface RenderOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  /** `--no-progress` sets this to false. */
  progress: boolean;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/**
 * A renderer: an event sink plus `stop()` to flush timers and bars. `--json` and plain lines of one turn
 * of the event loop are written together at its end; `stop()` writes what is pending.
 */
export interface Renderer {
  emit: EventSink;
  stop(): void;
  /**
   * A promise while the output stream's buffer is full (a slow reader of `--json`), settling when it
   * drains or closes; undefined when the run may go on at once.
   */
  drained(): Promise<void> | undefined;
}

/**
 * Properties whose values are the events' fixed vocabulary (event type, skip reason, notice level, error
 * code) or times: never passed through `redact()`, so a secret that happens to be `type` or `E_HTTP`
 * cannot break the shape of the output.
 */
const VOCABULARY = new Set(['type', 'reason', 'level', 'code', 'at']);

/**
 * `value` with `redact()` applied to every string value, at any depth, except the values of
 * `VOCABULARY` properties. Property names are never touched. Copy on write: an object or array none of
 * whose values changes is returned as it is (a nightly re-run emits 100 000 skip events with nothing to
 * redact), one that changes is a new object; `value` itself is never modified.
 */
export function redactEvent<T>(value: T, key?: string): T {
  if (typeof value === 'string')
    return (key !== undefined && VOCABULARY.has(key) ? value : redact(value)) as T;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = redactEvent(value[i] as unknown);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return (out ?? value) as T;
  }
  if (value !== null && typeof value === 'object') {
    const src = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    for (const k in src) {
      if (!Object.hasOwn(src, k)) continue;
      const v = redactEvent(src[k], k);
      if (out === undefined) {
        if (v === src[k]) continue;
        out = ownPropertiesBefore(src, k);
      }
      putData(out, k, v);
    }
    return (out ?? value) as T;
  }
  return value;
}

/**
 * `redactEvent` for an `item-skipped` event, whose only value that is not vocabulary is its key: the same
 * result without walking the object (a re-run emits one per skipped recording).
 */
export function redactSkipped<E extends { key: string }>(event: E): E {
  const key = redact(event.key);
  return key === event.key ? event : { ...event, key };
}

/** A new object with `src`'s own enumerable properties that come before `stop` in for…in order. */
function ownPropertiesBefore(src: Record<string, unknown>, stop: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in src) {
    if (k === stop) break;
    if (Object.hasOwn(src, k)) putData(out, k, src[k]);
  }
  return out;
}

/** Sets `out[k] = v`; a vendor's record may hold a `__proto__` key (JSON.parse makes it an own property): kept as data. */
function putData(out: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true });
  else out[k] = v;
}

/** Streams already guarded, with whether they are closed (a WeakMap: one listener per stream). */
const guarded = new WeakMap<NodeJS.WritableStream, { closed: boolean }>();

/**
 * A line writer for `stream` that survives its reader going away (`recpull ... --json | head -c 10`):
 * an `'error'` listener is added once per stream (without one, Node's EPIPE `'error'` event crashes the
 * process), and after the first error (EPIPE, or EIO from a closed terminal) every write is skipped.
 * The run goes on and exits as it would have; only its output is lost.
 *
 * @returns `write(text)` (text or bytes as given, newline included by the caller), `closed()` and `drained()`.
 */
export function safeWriter(stream: NodeJS.WritableStream): {
  write: (text: string | Uint8Array) => void;
  closed: () => boolean;
  drained: () => Promise<void> | undefined;
} {
  let state = guarded.get(stream);
  if (!state) {
    const s = { closed: false };
    state = s;
    guarded.set(stream, s);
    stream.on('error', () => {
      s.closed = true;
    });
  }
  const st = state;
  return {
    write: (text) => {
      if (st.closed) return;
      try {
        stream.write(text);
      } catch {
        st.closed = true; // a write after the stream was destroyed
      }
    },
    closed: () => st.closed,
    drained: () => {
      const w = stream as NodeJS.WritableStream & { writableNeedDrain?: boolean };
      if (st.closed || !w.writableNeedDrain) return undefined;
      return new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('close', done);
          stream.off('error', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('close', done);
        stream.on('error', done);
      });
    },
  };
}

/**
 * Picks the renderer for the options and the terminal. Output goes through `safeWriter` (a closed stdout
 * or stderr stops the output, not the run). Every event is redacted value by value
 * (`redactEvent`) before any renderer sees it; the renderers escape control characters in what they print.
 */
export function createRenderer(opts: RenderOptions): Renderer {
  let handlers: EventHandlers & { stop?: () => void };
  const stdout = safeWriter(opts.stdout);
  const stderr = safeWriter(opts.stderr); // also keeps the progress display's stream from crashing the run
  const progress = !opts.json && opts.progress && opts.stderr.isTTY && !opts.quiet;
  // --json lines and plain lines (a dry run over 1M rows: 1M of them) are batched; the bars draw themselves
  const output = opts.json ? stdout : stderr;
  const lines = progress ? undefined : batchedLines(output.write);
  const writeLine = (line: string) => lines?.write(line);
  if (opts.json) handlers = jsonHandlers(writeLine);
  else if (progress) handlers = progressHandlers(opts);
  else handlers = plainHandlers(opts, writeLine);
  return {
    emit: (event) =>
      dispatch(handlers, event.type === 'item-skipped' ? redactSkipped(event) : redactEvent<RunEvent>(event)),
    stop: () => {
      handlers.stop?.();
      lines?.close();
    },
    drained: () => output.drained(),
  };
}

/** Bytes of output lines gathered before they are written at once. */
const LINE_BATCH_BYTES = 64 * 1024;

/**
 * Gathers lines and writes them in one `write` per turn of the event loop (or per `LINE_BATCH_BYTES`):
 * a re-run skipping 100 000 recordings made 100 000 writes to stdout, one per `item-skipped`. Each line
 * is encoded into a buffer as it comes, so its string dies young: gathered as strings, the lines of a turn
 * (up to 64 KiB, a cons-string per line) outlived young-generation collections (a 100 000-key re-run: 300
 * scavenges keeping 180 KiB each, against 230 and 140 KiB without `--json`). A buffer once written is not
 * reused (a pipe that is full keeps it until it drains). Nothing is held past the current turn, `close()`
 * (and the process's `exit`) writes what is left, so the last line (`run-end`) is never lost.
 *
 * @returns `write(line)` (the line without its newline, which is added) and `close()`.
 */
function batchedLines(write: (chunk: string | Uint8Array) => void): {
  write: (line: string) => void;
  close: () => void;
} {
  let buf = Buffer.allocUnsafeSlow(LINE_BATCH_BYTES);
  let used = 0;
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    if (used === 0) return;
    const chunk = buf.subarray(0, used);
    buf = Buffer.allocUnsafeSlow(LINE_BATCH_BYTES);
    used = 0;
    write(chunk);
  };
  flushOnExit(flush);
  return {
    write: (line) => {
      const most = line.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 unit, plus the newline
      if (used + most > buf.length) {
        flush();
        if (most > buf.length) {
          write(`${line}\n`); // a line longer than a batch goes on its own, after what came before
          return;
        }
      }
      used += buf.write(line, used);
      buf[used++] = 0x0a;
      scheduled ??= setImmediate(flush);
    },
    close: () => {
      flush();
      exitFlushes.delete(flush);
    },
  };
}

/** Writers with lines pending when the process exits (one `exit` listener for all of them). */
const exitFlushes = new Set<() => void>();
let exitListening = false;

function flushOnExit(flush: () => void): void {
  if (!exitListening) {
    exitListening = true;
    process.on('exit', () => {
      for (const f of exitFlushes) f();
    });
  }
  exitFlushes.add(flush);
}
