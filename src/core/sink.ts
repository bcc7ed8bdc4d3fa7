/**
 * The sink: streams a body to `<final>.part` while computing its sha256 and byte count and validating the
 * audio, then fsyncs, renames into place and fsyncs the folder. A file under its final name is therefore
 * always whole and checked; everything else is a `.part`, listed in `<out>/.recpull/parts` so the next run
 * deletes what a crash left behind.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AudioValidator, type BodyCheck, UnvalidatedBody } from '../formats/audio.js';
import { RecpullError, toRecpullError } from './errors.js';
import { FdFile } from './fd-file.js';
import { transportError } from './http.js';
import type { PartJournal } from './journal.js';
import type { FileRecord } from './manifest.js';
import {
  forgetRealFolders,
  insideOut,
  lstatOrUndefined,
  makeFolders,
  makeParentFolders,
  PATH_TOO_LONG,
  resolveInsideOut,
} from './paths.js';
import type { FetchedBody } from './source.js';
import { youngCollections } from './young-gc.js';

/** Create or truncate for writing, refusing to follow a symlink at the path (`O_NOFOLLOW`). */
const WRITE_NO_FOLLOW = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/** What one item's attempts share: the `.part` in progress, so a later attempt can resume it. */
export interface PartState {
  /** Relative final path (POSIX) claimed for this item. */
  rel?: string;
  /** Bytes in the `.part` that a later attempt may keep. */
  bytes: number;
  etag?: string;
  /** The `.part` may be continued with `Range` (the server said so). */
  resumable: boolean;
}

/** Inputs of `writeRecording`. */
export interface WriteRecordingInput {
  out: string;
  fetched: FetchedBody;
  state: PartState;
  /** Picks (and claims) the relative final path once the format, hence the extension, is known. */
  claimPath: (ext: string) => Promise<string>;
  journal: PartJournal;
  /** The recording key (journalled with the path, for crash recovery). */
  key: string;
  signal: AbortSignal;
  /** Called with bytes written so far (including resumed bytes) and the expected total if known. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /**
   * Called once the body is whole and checked, before the rename, with its sha256 (hex) and size in bytes:
   * the relative path of an existing file with exactly these bytes that the recording takes instead (its
   * `.part` is then deleted and nothing renamed), or undefined to rename as usual.
   */
  adoptIdentical?: (sha256: string, bytes: number) => Promise<string | undefined>;
}

/**
 * Writes one recording. Resolves with its file record once the file is renamed into place and fsynced.
 * A body with `fetched.unvalidated` is saved with that extension and content type after only an error-page
 * sniff of its head (no WAV/MP3 structure check). Throws `E_BAD_AUDIO` (not audio; nothing kept), `E_TRUNCATED` (fewer bytes than declared; retryable),
 * `E_IO`, or the body's own error (network; the `.part` is kept when `state.resumable`).
 */
export async function writeRecording(input: WriteRecordingInput): Promise<FileRecord> {
  const { out, fetched, state, journal, signal } = input;
  // A body the vendor cannot validate (`unvalidated`) is only sniffed for an error page; see source.ts.
  const validator: BodyCheck = fetched.unvalidated
    ? new UnvalidatedBody(fetched.unvalidated, fetched.contentType)
    : new AudioValidator(fetched.contentType ? { contentType: fetched.contentType } : {});
  const hash = createHash('sha256');
  const resuming = state.rel !== undefined && state.bytes > 0 && (fetched.rangeStart ?? 0) === state.bytes;
  if (!resuming && (fetched.rangeStart ?? 0) > 0) {
    throw new RecpullError(
      'E_PROTOCOL',
      `the server resumed at byte ${fetched.rangeStart}, not at ${state.bytes}`,
      {
        retryable: true,
      },
    );
  }
  let bytes = 0;
  let fh: FdFile | undefined;
  let partAbs: string | undefined;
  const total = fetched.length !== undefined ? (fetched.rangeStart ?? 0) + fetched.length : undefined;
  let received = 0;
  try {
    const iterator = fetched.body[Symbol.asyncIterator]();
    const pending: Uint8Array[] = [];
    if (resuming && state.rel) {
      partAbs = `${insideOut(out, state.rel)}.part`;
      bytes = await replayPart(partAbs, state.bytes, hash, validator);
      // Append mode: every write lands at the end, after the `bytes` kept ('r+' would write from offset 0).
      fh = await FdFile.open(partAbs, 'a');
      await fh.truncate(bytes);
    } else {
      // Read until the format (hence the extension) is known; the validator throws on an error page.
      while (validator.format === undefined) {
        const next = await iterator.next();
        if (next.done) break;
        validator.push(next.value);
        pending.push(next.value);
        received += next.value.length;
      }
      const format = validator.format ?? validator.end().format; // end() throws on an empty or short body
      if (state.rel === undefined) state.rel = await input.claimPath(format);
      // Folders made one by one, never through a symlink below --out; the file's own path is checked
      // before the rename, and the `.part` is opened without following a link.
      partAbs = `${await makeFolders(out, state.rel)}.part`;
      await journal.add(input.key, state.rel);
      try {
        fh = await FdFile.open(partAbs, WRITE_NO_FOLLOW, 0o644); // a planted `x.wav.part` symlink is not followed
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        forgetRealFolders(); // a folder seen earlier in the run was removed: make it again
        partAbs = `${await makeFolders(out, state.rel)}.part`;
        fh = await FdFile.open(partAbs, WRITE_NO_FOLLOW, 0o644);
      }
      state.bytes = 0;
      state.resumable = fetched.resumable === true;
      if (fetched.etag !== undefined) state.etag = fetched.etag;
      for (const chunk of pending) hash.update(chunk);
      bytes = received; // the chunks read so far open the first batch (below): written with the rest
    }
    input.onProgress?.(bytes, total);
    // Chunks are written in batches of about 1 MiB with one writev (no copy, far fewer system calls); the
    // first batch starts with the chunks read to learn the format, so a small recording is one writev.
    // One batch is written while the next is read: `writes` holds the write under way (in order, never
    // two at once), and is waited for before the next batch starts, before the file is synced or closed,
    // and on every way out. `state.bytes` counts only what reached the file, so a resume starts after
    // the last whole batch.
    const file = fh;
    const writes = new OrderedWrites(async (chunks, length, end) => {
      await writevAll(file, chunks, length);
      state.bytes = end;
    });
    let batch: Uint8Array[] = pending;
    let batched = received;
    const flush = async (): Promise<void> => {
      youngCollections.streamed(batched); // frees the read buffers written so far (src/core/young-gc.ts)
      if (batched > 0) await writes.start(batch, batched, bytes);
      batch = [];
      batched = 0;
    };
    try {
      for (;;) {
        if (signal.aborted) throw new RecpullError('E_ABORTED', 'interrupted');
        let next: IteratorResult<Uint8Array>;
        try {
          next = await iterator.next();
        } catch (err) {
          // the bytes received before a cut are good: keep them for a resume (`finally` waits for them)
          await flush().catch(() => {});
          throw err;
        }
        if (next.done) break;
        const chunk = next.value;
        validator.push(chunk);
        hash.update(chunk);
        batch.push(chunk);
        batched += chunk.length;
        bytes += chunk.length;
        received += chunk.length;
        if (batched >= WRITE_BATCH_BYTES) await flush();
        input.onProgress?.(bytes, total);
      }
      await flush();
      await writes.settled();
    } finally {
      await writes.settled().catch(() => {}); // nothing may write to the fd once it is closed
    }
    if (fetched.length !== undefined && received !== fetched.length) {
      throw new RecpullError('E_TRUNCATED', `the body ended after ${received} of ${fetched.length} bytes`, {
        retryable: true,
      });
    }
    const audio = validator.end();
    const sha256 = hash.digest('hex');
    const existing = await input.adoptIdentical?.(sha256, bytes);
    if (existing !== undefined) {
      fh.close();
      fh = undefined;
      await rm(partAbs, { force: true });
      state.bytes = 0;
      return { path: existing, bytes, sha256, contentType: audio.contentType };
    }
    await fh.sync();
    fh.close();
    fh = undefined;
    const finalAbs = await resolveInsideOut(out, state.rel as string);
    await rename(partAbs, finalAbs);
    await fsyncDir(dirname(finalAbs));
    return { path: state.rel as string, bytes, sha256, contentType: audio.contentType };
  } catch (err) {
    try {
      fh?.close();
    } catch {
      // closing after a failure: the failure is what counts
    }
    const e = err instanceof RecpullError ? err : bodyError(err, signal);
    const keep =
      state.resumable &&
      state.bytes > 0 &&
      e.retryable &&
      e.code !== 'E_TRUNCATED' &&
      e.code !== 'E_BAD_AUDIO';
    if (!keep) {
      if (partAbs) await rm(partAbs, { force: true }).catch(() => {});
      state.bytes = 0;
    }
    throw e;
  }
}

/**
 * A failure while reading the body is the network's (retryable); one while writing is the disk's:
 * `E_NO_SPACE` for a full disk or quota (it stops the run: every other recording would fail too),
 * `E_IO` for the rest.
 */
export function bodyError(err: unknown, signal: AbortSignal): RecpullError {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new RecpullError(
      'E_NO_SPACE',
      `no space left on the disk of the output folder (${code}); free some and run again: finished recordings are kept`,
      { cause: err },
    );
  }
  if (code === 'ENAMETOOLONG') return new RecpullError('E_IO', PATH_TOO_LONG, { cause: err });
  if (/^(EACCES|EPERM|EROFS|EISDIR|ENOTDIR|EMFILE|ENFILE|EIO|ELOOP|EEXIST)$/.test(code))
    return toRecpullError(err, 'E_IO');
  return transportError(err, signal);
}

/** Bytes gathered before one `writev` (the body's chunks are typically 16–64 KiB). */
const WRITE_BATCH_BYTES = 1 << 20;

/**
 * One write under way at a time, in the order started: `start` waits for the previous write (and throws
 * its error), then starts this one without waiting for it; `settled` waits for the last one started.
 * `write(chunks, length, end)` gets the buffers, their total length in bytes, and the file's size once
 * they are written.
 */
class OrderedWrites {
  private current: Promise<void> | undefined;

  constructor(private readonly write: (chunks: Uint8Array[], length: number, end: number) => Promise<void>) {}

  async start(chunks: Uint8Array[], length: number, end: number): Promise<void> {
    await this.settled();
    const current = this.write(chunks, length, end);
    current.catch(() => {}); // seen by the next `start` or `settled`; not an unhandled rejection meanwhile
    this.current = current;
  }

  async settled(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    if (current) await current;
  }
}

/** Writes every buffer of `chunks` (`total` bytes in all) in order, with `writev`, finishing partial writes. */
async function writevAll(fh: FdFile, chunks: Uint8Array[], total: number): Promise<void> {
  const bytesWritten = await fh.writev(chunks);
  if (bytesWritten === total) return;
  let skip = bytesWritten;
  for (const chunk of chunks) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    await fh.writeAll(skip > 0 ? chunk.subarray(skip) : chunk);
    skip = 0;
  }
}

/** Feeds the first `bytes` of an existing `.part` through hash and validator; returns the bytes read. */
async function replayPart(partAbs: string, bytes: number, hash: Hash, validator: BodyCheck): Promise<number> {
  let read = 0;
  for await (const chunk of createReadStream(partAbs, { start: 0, end: bytes - 1 })) {
    const b = chunk as Buffer;
    hash.update(b);
    validator.push(b);
    read += b.length;
  }
  if (read !== bytes)
    throw new RecpullError('E_IO', `the .part file ${partAbs} is shorter than recorded`, { retryable: true });
  return read;
}

/**
 * Fsyncs folder `dir` so the renames made in it so far are on disk. Group commit per folder: a caller
 * arriving while a sync of `dir` runs joins the one sync that starts after it (which covers its rename), so
 * 16 workers finishing in one folder cost about two folder syncs, not 16 in a row.
 */
function fsyncDir(dir: string): Promise<void> {
  let s = folderSyncs.get(dir);
  if (!s) {
    s = {};
    folderSyncs.set(dir, s);
  }
  const state = s;
  if (state.queued) return state.queued; // starts after the sync under way: it covers this rename
  if (!state.inFlight) return startFolderSync(state, dir);
  state.queued = state.inFlight.then(() => {
    state.queued = undefined;
    return startFolderSync(state, dir);
  });
  return state.queued;
}

/** Per folder: the sync under way, and the one that will start when it ends. */
const folderSyncs = new Map<string, { inFlight?: Promise<void>; queued?: Promise<void> }>();

function startFolderSync(state: { inFlight?: Promise<void>; queued?: Promise<void> }, dir: string) {
  const p: Promise<void> = syncFolder(dir).finally(() => {
    if (state.inFlight !== p) return;
    state.inFlight = undefined;
    if (!state.queued) folderSyncs.delete(dir);
  });
  state.inFlight = p;
  return p;
}

async function syncFolder(dir: string): Promise<void> {
  let folder: FdFile;
  try {
    folder = await FdFile.open(dir, 'r');
  } catch {
    return; // gone or unreadable: the rename is still atomic
  }
  try {
    await folder.sync();
  } catch {
    // some file systems cannot fsync a folder; the rename is still atomic
  } finally {
    folder.close();
  }
}

/**
 * Whether the regular file at `abs` (a symlink is not followed) holds exactly `bytes` bytes whose sha256 is
 * `sha256` (hex). False when it is missing, not a regular file, of another size, or cannot be read.
 */
export async function sameFile(abs: string, sha256: string, bytes: number): Promise<boolean> {
  const st = await lstatOrUndefined(abs).catch(() => undefined);
  if (!st?.isFile() || st.size !== bytes) return false;
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(abs)) hash.update(chunk as Buffer);
  } catch {
    return false;
  }
  return hash.digest('hex') === sha256;
}

/** Removes a `.part` (an item that will not be retried). */
export async function discardPart(out: string, state: PartState): Promise<void> {
  if (state.rel === undefined) return;
  await rm(`${insideOut(out, state.rel)}.part`, { force: true }).catch(() => {});
  state.bytes = 0;
}

/**
 * Writes a small file (the `--metadata` JSON sidecar) atomically: `.part`, fsync, rename.
 * Returns its file record.
 */
export async function writeSmallFile(
  out: string,
  rel: string,
  content: string,
  contentType: string,
): Promise<FileRecord> {
  const abs = await makeParentFolders(out, rel);
  const part = `${abs}.part`;
  const fh = await open(part, WRITE_NO_FOLLOW, 0o644);
  try {
    await fh.writeFile(content, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(part, abs);
  const buf = Buffer.from(content, 'utf8');
  return {
    path: rel,
    bytes: buf.length,
    sha256: createHash('sha256').update(buf).digest('hex'),
    contentType,
  };
}
