/**
 * The contract between the engine and a vendor (DESIGN.md "Contracts"). A vendor module builds a `Source`;
 * the engine iterates its refs lazily, skips what the manifest says is done, and calls `fetch` under the
 * queue's concurrency limit and retry policy. The engine never imports a vendor.
 */
import type { ZipLimits } from '../formats/zip.js';
import type { RecpullError } from './errors.js';
import type { EventSink } from './events.js';

/** A value a recording carries into the output template (`{field}`) and the metadata sidecar. */
export type MetaValue = string | number | boolean | null | undefined;

/**
 * One recording to fetch.
 * - `key`: stable across runs, unique within the vendor account (e.g. `timplus:<ds>:<loc>:<file>`).
 * - `meta`: the fields the output template may use (vendor fields plus extra input columns).
 * - `line`: 1-based line of the input list it came from, when it came from one.
 * - `record`: the vendor's own record (e.g. a call-log record), written by `--metadata` beside the audio.
 * - `fieldsAtFetch`: the ref's template fields are only known once it is fetched (`FetchedBody.fields`),
 *   so the engine does not check the template against it before the request.
 *
 * A ref is never changed after it is yielded: what a fetch learns comes back in its `FetchedBody`.
 */
export interface RecordingRef {
  key: string;
  vendor: string;
  meta: Record<string, MetaValue>;
  line?: number;
  record?: unknown;
  fieldsAtFetch?: boolean;
}

/** Where an earlier attempt stopped, so a vendor that supports `Range` can continue from there. */
export interface ResumePoint {
  /** Bytes already in the `.part` file. */
  offset: number;
  /** The ETag of the response those bytes came from, if the server sent one. */
  etag?: string;
}

/** What `fetch` gets besides the ref. */
export interface FetchContext {
  /** Aborted on Ctrl-C or when the run stops for a fatal error. */
  signal: AbortSignal;
  /** 1-based attempt number of this item. */
  attempt: number;
  /** Set when the sink kept a `.part` from the previous attempt and the vendor declared `resumable`. */
  resume?: ResumePoint;
}

/**
 * What `Source.open` gets: the run's abort signal, the event sink, and `fail`, which stops the run from a
 * background task (a keep-alive loop that finds the session gone) exactly like a fatal error thrown by
 * `fetch`: in-flight items are aborted, nothing more is started, `close` still runs, and the exit code
 * follows the error's code (`E_AUTH` → 3). Calls after the first are ignored.
 */
export interface OpenContext {
  signal: AbortSignal;
  emit: EventSink;
  fail(err: RecpullError): void;
}

/**
 * A response body on its way to disk.
 * - `body`: the bytes, in order (a Node Readable or any async iterable of chunks).
 * - `contentType`: as the server sent it (the sink checks it against the bytes).
 * - `length`: the byte count of this body, when the server said (Content-Length).
 * - `rangeStart`: when the body continues a `.part` (HTTP 206), the offset of its first byte; absent or 0
 *   means the body is the whole recording and the `.part` is started over.
 * - `etag` and `resumable`: whether a later attempt may resume with `Range`.
 * - `fields`: template fields the fetch learned (e.g. a start time that only the response tells); they
 *   are merged over `ref.meta` for this item's output path and metadata. A fetch never writes into the ref.
 * - `record`: the vendor's record as the fetch learned it; replaces `ref.record` in the `--metadata` sidecar.
 * - `bundle: 'zip'`: the body is a zip of several recordings of one call (CC-FS by call id). The engine
 *   (src/core/bundle.ts) streams it to `<out>/.recpull/staging/`, refuses an unsafe or oversized zip
 *   (`E_BAD_AUDIO`, within `bundleLimits`), validates every entry as audio, and renames the unpacked folder
 *   into place whole: the template with its `.{ext}` dropped names the folder (`{vendor}/{date}/{name}/`),
 *   and the manifest line lists every file in it. Such a body is never resumed.
 * - `bundleLimits`: limits of that zip (entries, total bytes, compression ratio; src/formats/zip.ts).
 * - `unvalidated`: the body is audio the sink cannot check (no WAV/MP3 header: headerless G.711 from the
 *   CC-Gateway). The sink still refuses a body that looks like HTML, XML, JSON or text (`E_BAD_AUDIO`),
 *   skips the WAV/MP3 structure check, saves it with extension `ext` (no dot, e.g. `V3`) and records
 *   `contentType` (e.g. `application/octet-stream`) in the manifest. The vendor says "not validated" in a notice.
 */
export interface FetchedBody {
  body: AsyncIterable<Uint8Array>;
  contentType?: string;
  length?: number;
  rangeStart?: number;
  etag?: string;
  resumable?: boolean;
  fields?: Record<string, MetaValue>;
  record?: unknown;
  unvalidated?: { ext: string; contentType: string };
  bundle?: 'zip';
  bundleLimits?: Partial<ZipLimits>;
}

/** What the engine reports back to the source when the run ends (for cursors such as `--since-last`). */
export interface RunOutcome {
  /** Every item done or skipped, nothing interrupted. */
  ok: boolean;
  interrupted: boolean;
}

/** A vendor's view of one run: what to fetch and how. */
export interface Source {
  /** Vendor id as used in keys, the template's `{vendor}` and the config (`timplus`, `ringcentral`...). */
  readonly vendor: string;
  /** The template fields every ref of this vendor carries (besides `vendor`, `ext` and `key`). */
  readonly fields: readonly string[];
  /** The default output template, e.g. `{vendor}/{datasource}/{voicefilename}.{ext}`. */
  readonly defaultTemplate: string;
  /**
   * Called once before anything is listed or fetched (sign in, check credentials, start a keep-alive loop
   * that reports a lost session through `ctx.fail`). Throwing fails the run like a fatal error.
   */
  open?(ctx: OpenContext): Promise<void>;
  /**
   * The recordings to fetch, lazily, one at a time or in arrays (a listing page; up to 128 rows of an
   * input list: `inputRefs` in src/core/input-refs.ts). An array costs the run one `await` for all its
   * items, which a nightly re-run over a million done rows notices; the run still checks each item in
   * order (duplicates, the output's lag, an abort between two items). An input row that cannot be read
   * is yielded as an `InputRowError` (code `E_INPUT`, with `line` in its message) so the run counts it as
   * failed and goes on.
   */
  refs(signal: AbortSignal): AsyncIterable<RefItem | readonly RefItem[]>;
  /** Starts the download of one recording. Throws a `RecpullError` (retryable or not). */
  fetch(ref: RecordingRef, ctx: FetchContext): Promise<FetchedBody>;
  /**
   * Called once on every way out of a run that reached `open` (success, failed items, a fatal error,
   * Ctrl-C, SIGTERM, SIGHUP, an uncaught error): sign out, revoke, stop background loops, advance cursors.
   * The engine waits for it at most the close deadline (default 10 s), then ends the run anyway and says
   * so; `signal` fires when that deadline passes, so a sign-out request can be abandoned.
   */
  close?(outcome: RunOutcome, signal: AbortSignal): Promise<void>;
}

/** An input row that could not be turned into a ref. */
export interface InputRowError {
  inputError: RecpullError;
  /** 1-based line number in the input. */
  line: number;
}

/** One item of `Source.refs()`: a recording to fetch, or an input row that could not be read. */
export type RefItem = RecordingRef | InputRowError;

/** Narrowing helper for `Source.refs()` items. */
export function isInputRowError(item: RecordingRef | InputRowError): item is InputRowError {
  return (item as InputRowError).inputError !== undefined;
}
