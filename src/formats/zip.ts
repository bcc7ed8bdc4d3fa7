/**
 * Safe extraction of a zip bundle (CC-FS answers a call id with several recordings as a zip:
 * reference/seeds/huawei-cc-fs-download-record-extended.txt "Response"), with yauzl, streaming, from a zip
 * file on disk (its central directory is at the end, so the body is downloaded first).
 *
 * Two passes over one open zip:
 * 1. the central directory only: every entry is checked and the whole zip refused before a single byte is
 *    written when one entry is unsafe — a `..` segment, an absolute, UNC or drive path, a `:`, a control
 *    character, a backslash (read as a separator, then checked like any path), a symlink or other special file,
 *    an encrypted entry, an unknown compression method, a duplicate name (case- and Unicode-insensitive, or a
 *    file that is also a folder), more entries than `maxEntries`, more declared bytes than `maxTotalBytes`, or
 *    a declared compression ratio above `maxRatio`;
 * 2. each file entry is streamed through the caller's sink into the staging folder, with the declared size
 *    enforced as bytes arrive (a header that lies about its size is caught at the first byte too many), the
 *    running total against `maxTotalBytes`, and the CRC-32 checked at the end.
 * On any failure the staging folder is removed, so nothing partial is left behind. `commitStaged` then
 * renames a complete staging folder into place.
 *
 * Errors: unsafe or corrupt zips throw `RecpullError('E_BAD_AUDIO')` (not retryable; message starts with
 * `unsafe zip` or `corrupt zip`); file system failures `E_IO`; the sink's own errors pass through.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import { RecpullError, toRecpullError } from '../core/errors.js';
import { lazyRequire } from '../core/lazy-require.js';

/** yauzl, loaded on the first zip (a run without bundles does not pay its ~10 ms of loading). */
const yauzl = lazyRequire<typeof import('yauzl')>('yauzl');

/** Limits of one zip. Sizes in bytes. */
export interface ZipLimits {
  /** Most entries (files and folders) a zip may hold. Default 1000. */
  maxEntries: number;
  /** Most uncompressed bytes of all entries together, declared and actual. Default 4 GiB. */
  maxTotalBytes: number;
  /** Highest uncompressed/compressed ratio of one entry larger than `ratioFloorBytes`. Default 200. */
  maxRatio: number;
  /** Entries up to this many uncompressed bytes are not ratio-checked (tiny files compress well). Default 1 MiB. */
  ratioFloorBytes: number;
}

/** The defaults of {@link ZipLimits}. */
export const DEFAULT_ZIP_LIMITS: Readonly<ZipLimits> = {
  maxEntries: 1000,
  maxTotalBytes: 4 * 1024 ** 3,
  maxRatio: 200,
  ratioFloorBytes: 1024 ** 2,
};

/** One file entry, as checked in pass 1. Sizes in bytes, from the central directory. */
export interface ZipEntryInfo {
  /** 0-based position among the zip's file entries. */
  index: number;
  /** Safe relative POSIX path (NFC), e.g. `a.wav` or `sub/b.wav`. */
  name: string;
  declaredBytes: number;
  compressedBytes: number;
}

/** A file written into the staging folder. `path` is relative to it (POSIX). */
export interface ExtractedFile {
  path: string;
  bytes: number;
  /** Lower-case hex SHA-256 of the bytes. */
  sha256: string;
  contentType: string;
}

/** What a sink reports for one entry. */
export interface SinkResult {
  bytes: number;
  sha256: string;
  contentType: string;
}

/**
 * Writes one entry: consumes `body` (whose iteration throws when a limit is crossed) into the absolute path
 * `dest` (inside the staging folder; its parent exists) and reports what it wrote.
 */
export type EntrySink = (
  entry: ZipEntryInfo,
  body: AsyncIterable<Buffer>,
  dest: string,
) => Promise<SinkResult>;

/** A streaming validator of one entry's bytes; `AudioValidator` (src/formats/audio.ts) is one. */
export interface EntryCheck {
  /** Throws to refuse the entry. */
  push(chunk: Uint8Array): void;
  /** Throws to refuse the entry; else the content type of what was seen. */
  end(): { contentType: string };
}

/** Options of {@link extractZip}. */
export interface ExtractOptions {
  limits?: Partial<ZipLimits>;
  /** How each entry is written; default {@link fileSink}() (no content check, `application/octet-stream`). */
  sink?: EntrySink;
  /**
   * Renames each path segment of a safe entry name before it is used (e.g. `sanitizeSegment` of
   * src/core/template.ts: no bidi controls or Windows-reserved names on disk). Two entries that map to the
   * same name are duplicates (the zip is refused).
   */
  mapSegment?: (segment: string) => string;
  signal?: AbortSignal;
}

/** Quotes an entry name for a message: escaped, at most 120 characters. */
function quote(name: string): string {
  const q = JSON.stringify(name);
  return q.length > 122 ? `${q.slice(0, 119)}..."` : q;
}

function unsafe(message: string): RecpullError {
  return new RecpullError('E_BAD_AUDIO', `unsafe zip: ${message}`);
}

function corrupt(message: string): RecpullError {
  return new RecpullError('E_BAD_AUDIO', `corrupt zip: ${message}`);
}

/**
 * Checks an entry name and returns its safe relative form (NFC, `/`-separated, a trailing `/` kept for a
 * folder). Throws `E_BAD_AUDIO` ("unsafe zip") for an empty, absolute, UNC or drive path, a `..` or `.`
 * segment, an empty segment, a `:` or a control character. Backslashes count as separators.
 */
export function safeEntryName(raw: string): string {
  const name = raw.normalize('NFC');
  if (name === '') throw unsafe('an entry has an empty name');
  if (/[\u0000-\u001f\u007f]/.test(name))
    throw unsafe(`entry ${quote(name)} has a control character in its name`);
  const slashed = name.replace(/\\/g, '/');
  if (slashed.startsWith('/')) throw unsafe(`entry ${quote(name)} has an absolute path`);
  if (/^[a-z]:/i.test(slashed)) throw unsafe(`entry ${quote(name)} has a drive path`);
  if (slashed.includes(':')) throw unsafe(`entry ${quote(name)} has a ":" in its name`);
  const isDir = slashed.endsWith('/');
  const segments = (isDir ? slashed.slice(0, -1) : slashed).split('/');
  for (const s of segments) {
    if (s === '..') throw unsafe(`entry ${quote(name)} climbs out of its folder ("..")`);
    if (s === '.' || s === '') throw unsafe(`entry ${quote(name)} has an empty or "." path segment`);
  }
  return segments.join('/') + (isDir ? '/' : '');
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const DOS_REPARSE_POINT = 0x400;

/** Refuses symlinks, devices, FIFOs, sockets and Windows reparse points (by the external attributes). */
function checkFileType(entry: Entry, name: string): void {
  const unixType = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (unixType === S_IFLNK) throw unsafe(`entry ${quote(name)} is a symbolic link`);
  if (unixType !== 0 && unixType !== S_IFREG && unixType !== S_IFDIR)
    throw unsafe(`entry ${quote(name)} is a special file (mode ${unixType.toString(8)})`);
  if (entry.externalFileAttributes & DOS_REPARSE_POINT)
    throw unsafe(`entry ${quote(name)} is a reparse point`);
}

interface Checked {
  entry: Entry;
  info: ZipEntryInfo;
}

/** Pass 1: reads and checks the central directory. Returns the file entries in zip order. */
async function auditEntries(
  zip: ZipFile,
  limits: ZipLimits,
  mapSegment?: (segment: string) => string,
): Promise<Checked[]> {
  if (zip.entryCount > limits.maxEntries)
    throw unsafe(`${zip.entryCount} entries, more than the limit of ${limits.maxEntries}`);
  const files: Checked[] = [];
  const fileKeys = new Set<string>();
  const dirKeys = new Set<string>();
  let declaredTotal = 0;
  const take = (entry: Entry): void => {
    const raw = yauzl().getFileNameLowLevel(
      entry.generalPurposeBitFlag,
      entry.fileNameRaw,
      entry.extraFields,
      true,
    );
    let name = safeEntryName(raw);
    checkFileType(entry, name);
    if (mapSegment) {
      const dir = name.endsWith('/');
      const segs = (dir ? name.slice(0, -1) : name).split('/');
      name = safeEntryName(segs.map(mapSegment).join('/') + (dir ? '/' : ''));
    }
    const isDir = name.endsWith('/');
    const key = (isDir ? name.slice(0, -1) : name).toLowerCase();
    if (fileKeys.has(key) || (dirKeys.has(key) && !isDir)) throw unsafe(`entry ${quote(name)} appears twice`);
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (fileKeys.has(parent)) throw unsafe(`entry ${quote(name)} lies under a file of the same zip`);
      dirKeys.add(parent);
    }
    if (isDir) {
      dirKeys.add(key);
      return;
    }
    fileKeys.add(key);
    if (entry.isEncrypted()) throw unsafe(`entry ${quote(name)} is encrypted`);
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)
      throw unsafe(`entry ${quote(name)} uses compression method ${entry.compressionMethod}`);
    if (entry.compressionMethod === 0 && entry.compressedSize !== entry.uncompressedSize)
      throw corrupt(`stored entry ${quote(name)} declares two sizes`);
    declaredTotal += entry.uncompressedSize;
    if (declaredTotal > limits.maxTotalBytes)
      throw unsafe(`entries declare more than the limit of ${limits.maxTotalBytes} bytes in all`);
    if (
      entry.uncompressedSize > limits.ratioFloorBytes &&
      entry.uncompressedSize / Math.max(1, entry.compressedSize) > limits.maxRatio
    )
      throw unsafe(
        `entry ${quote(name)} expands ${entry.compressedSize} bytes to ${entry.uncompressedSize} ` +
          `(ratio above the limit of ${limits.maxRatio})`,
      );
    files.push({
      entry,
      info: {
        index: files.length,
        name,
        declaredBytes: entry.uncompressedSize,
        compressedBytes: entry.compressedSize,
      },
    });
  };
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: Entry) => {
      try {
        take(entry);
        zip.readEntry();
      } catch (err) {
        reject(err);
      }
    });
    zip.once('end', () => resolve());
    zip.once('error', (err: Error) => reject(corrupt(err.message)));
    zip.readEntry();
  });
  return files;
}

/** The bytes of one entry, with the declared size, the zip's total budget and the CRC-32 enforced. */
async function* guarded(
  stream: Readable,
  c: Checked,
  budget: { left: number; limit: number },
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer> {
  let seen = 0;
  let crc = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (signal?.aborted) throw new RecpullError('E_ABORTED', 'interrupted');
      seen += chunk.length;
      if (seen > c.info.declaredBytes)
        throw unsafe(
          `entry ${quote(c.info.name)} holds more bytes than the ${c.info.declaredBytes} it declares`,
        );
      budget.left -= chunk.length;
      if (budget.left < 0) throw unsafe(`entries hold more than the limit of ${budget.limit} bytes in all`);
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof RecpullError) throw err;
    throw corrupt(`entry ${quote(c.info.name)}: ${(err as Error).message}`);
  } finally {
    stream.destroy();
  }
  if (seen !== c.info.declaredBytes)
    throw corrupt(`entry ${quote(c.info.name)} ends after ${seen} of its ${c.info.declaredBytes} bytes`);
  if (crc >>> 0 !== c.entry.crc32 >>> 0) throw corrupt(`entry ${quote(c.info.name)} fails its CRC-32 check`);
}

/**
 * The default sink: writes `body` to `dest` (exclusively: an existing file or link there is an error), hashing
 * it, passing each chunk through `check(entry)` when given, and fsyncs the file. Throws what `check` throws,
 * `E_IO` for file system failures.
 */
export function fileSink(check?: (entry: ZipEntryInfo) => EntryCheck): EntrySink {
  return async (entry, body, dest) => {
    const validator = check?.(entry);
    const hash = createHash('sha256');
    let bytes = 0;
    const fh = await open(dest, 'wx');
    try {
      for await (const chunk of body) {
        validator?.push(chunk);
        hash.update(chunk);
        for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off)).bytesWritten;
        bytes += chunk.length;
      }
      const contentType = validator ? validator.end().contentType : 'application/octet-stream';
      await fh.sync();
      return { bytes, sha256: hash.digest('hex'), contentType };
    } finally {
      await fh.close();
    }
  };
}

/**
 * Extracts the zip file `zipPath` into `stagingDir` (created afresh: removed first if it exists; its parent must
 * be on the same disk as the final folder for {@link commitStaged}). Resolves with every file written, in zip
 * order; folders are created as needed and fsynced. On any failure `stagingDir` is removed and the error
 * thrown: `E_BAD_AUDIO` (unsafe or corrupt zip, or what the sink's check refused), `E_ABORTED`, `E_IO`.
 */
export async function extractZip(
  zipPath: string,
  stagingDir: string,
  opts: ExtractOptions = {},
): Promise<ExtractedFile[]> {
  const limits: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...opts.limits };
  const sink = opts.sink ?? fileSink();
  let zip: ZipFile | undefined;
  try {
    await rm(stagingDir, { recursive: true, force: true });
    try {
      zip = await yauzl().openPromise(zipPath, {
        lazyEntries: true,
        autoClose: false,
        decodeStrings: false,
        validateEntrySizes: false,
      });
    } catch (err) {
      throw corrupt((err as Error).message);
    }
    const files = await auditEntries(zip, limits, opts.mapSegment);
    await mkdir(stagingDir, { recursive: true });
    const dirs = new Set<string>([stagingDir]);
    const budget = { left: limits.maxTotalBytes, limit: limits.maxTotalBytes };
    const out: ExtractedFile[] = [];
    for (const c of files) {
      if (opts.signal?.aborted) throw new RecpullError('E_ABORTED', 'interrupted');
      const dest = join(stagingDir, ...c.info.name.split('/'));
      const parent = dirname(dest);
      if (!dirs.has(parent)) {
        await mkdir(parent, { recursive: true });
        dirs.add(parent);
      }
      let stream: Readable;
      try {
        stream = await zip.openReadStreamPromise(c.entry);
      } catch (err) {
        throw corrupt(`entry ${quote(c.info.name)}: ${(err as Error).message}`);
      }
      const r = await sink(c.info, guarded(stream, c, budget, opts.signal), dest);
      out.push({ path: c.info.name, ...r });
    }
    for (const d of [...dirs].reverse()) await fsyncDir(d);
    return out;
  } catch (err) {
    await rm(stagingDir, { recursive: true, force: true }).catch(() => {});
    throw toRecpullError(err, 'E_IO');
  } finally {
    zip?.close();
  }
}

/** fsyncs a folder (best effort where folders cannot be opened, e.g. Windows). */
async function fsyncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // not supported here
  } finally {
    await fh?.close().catch(() => {});
  }
}

/**
 * Moves a complete staging folder to `finalDir` (same disk) and fsyncs the parent: after a crash either the
 * old folder, or the new one, is in place. An existing `finalDir` (a forced re-download) is first renamed to
 * `<finalDir>.old-<pid>` and removed once the new one is in place. Throws `E_IO`.
 */
export async function commitStaged(stagingDir: string, finalDir: string): Promise<void> {
  try {
    await mkdir(dirname(finalDir), { recursive: true });
    const old = `${finalDir}.old-${process.pid}`;
    let moved = false;
    try {
      await rename(finalDir, old);
      moved = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await rename(stagingDir, finalDir);
    await fsyncDir(dirname(finalDir));
    if (moved) await rm(old, { recursive: true, force: true });
  } catch (err) {
    throw toRecpullError(err, 'E_IO');
  }
}
