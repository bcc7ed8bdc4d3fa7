/**
 * The manifest: `<out>/.recpull/manifest.jsonl`, one JSON object per line, the last line for a key wins
 * (DESIGN.md "Contracts"). Lines are appended and fsynced (in groups: see `append`), after the file they describe
 * was renamed into place, so a crash leaves at worst a torn last line, which replay ignores and the next
 * open cuts off.
 */
import { readSync } from 'node:fs';
import { type FileHandle, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type ErrorCode, RecpullError } from './errors.js';
import type { ErrorInfo } from './events.js';
import { type IndexEntry, ManifestIndex } from './manifest-index.js';

/** One file written for a recording. `path` is relative to `--out` (POSIX separators); `bytes` its size. */
export interface FileRecord {
  path: string;
  bytes: number;
  sha256: string;
  contentType: string;
}

/** One manifest line. `at` is ISO-8601; `attempts` counts fetch attempts of the last run that touched it. */
export interface ManifestRecord {
  key: string;
  status: 'done' | 'failed';
  files: FileRecord[];
  attempts: number;
  error?: ErrorInfo;
  at: string;
}

/** The folder recpull keeps its state in, below `--out`. */
export function stateDir(out: string): string {
  return join(out, '.recpull');
}

/** The manifest file of an output folder. */
export function manifestPath(out: string): string {
  return join(stateDir(out), 'manifest.jsonl');
}

/** The manifest's index of an output folder (a cache: deleting it only costs a rebuild). */
export function indexPath(out: string): string {
  return join(stateDir(out), 'index.sqlite');
}

/**
 * A relative POSIX path below `--out`: not empty, not absolute, no `..` segment, no NUL, no backslash.
 * A line naming anything else was not written by recpull and is unreadable.
 */
const relativePath = z
  .string()
  .min(1)
  .refine(
    (p) =>
      !p.startsWith('/') &&
      !/^[A-Za-z]:/.test(p) &&
      !p.includes('\\') &&
      !p.includes('\u0000') &&
      !p.split('/').includes('..'),
  );

/** The shape every replayed line must have (extra properties are kept, for newer versions' fields). */
const recordSchema = z.looseObject({
  key: z.string().min(1),
  status: z.enum(['done', 'failed']),
  files: z.array(
    z.looseObject({
      path: relativePath,
      bytes: z.number().int().nonnegative(),
      sha256: z.string(),
      contentType: z.string(),
    }),
  ),
  attempts: z.number().int().nonnegative(),
  error: z
    .looseObject({
      code: z.string(),
      message: z.string(),
      vendorCode: z.string().optional(),
      status: z.number().optional(),
    })
    .optional(),
  at: z.string(),
});

/**
 * What replaying a manifest found. `badLines` are 1-based numbers of unreadable lines: not JSON, or not of
 * the shape of `ManifestRecord`, including a last line without its newline that is not the start of a
 * record (a torn record, from a crash mid-write, is not counted).
 */
export interface ManifestReplay {
  records: Map<string, ManifestRecord>;
  /** Byte length of the well-formed prefix (everything up to and including the last newline). */
  goodBytes: number;
  /** The text ends in a line without its newline (cut off by `Manifest.open`). */
  torn: boolean;
  badLines: number[];
  /** False when there is no manifest file at all (`readManifest` of a folder never used). */
  exists: boolean;
}

/**
 * Parses manifest text. Each line is checked against the record shape; a line that fails is counted in
 * `badLines` and ignored. A last line without its newline that starts like a record (`{"`) is a crash
 * mid-write and ignored silently; any other unterminated tail is counted too.
 */
export function replayManifest(text: string): ManifestReplay {
  const records = new Map<string, ManifestRecord>();
  const badLines: number[] = [];
  const lastNewline = text.lastIndexOf('\n');
  const complete = lastNewline === -1 ? '' : text.slice(0, lastNewline);
  const tail = text.slice(lastNewline + 1);
  const lines = complete === '' ? [] : complete.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const rec = parseRecord(line);
    if (rec) records.set(rec.key, rec);
    else badLines.push(i + 1);
  });
  const torn = tail.trim() !== '';
  if (torn && !tail.startsWith('{"')) badLines.push(lines.length + 1);
  return {
    records,
    goodBytes: Buffer.byteLength(text.slice(0, lastNewline + 1)),
    torn,
    badLines,
    exists: true,
  };
}

/**
 * `lines` as a short list for a message: `3, 7, 12`, or the first ten and `… (N lines)` when there are more.
 */
export function describeLines(lines: readonly number[]): string {
  if (lines.length <= 10) return lines.join(', ');
  return `${lines.slice(0, 10).join(', ')} … (${lines.length} lines)`;
}

function parseRecord(line: string): ManifestRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  const checked = recordSchema.safeParse(v);
  if (!checked.success) return undefined;
  const { error, ...rest } = checked.data;
  const rec: ManifestRecord = rest;
  if (error) rec.error = { ...error, code: error.code as ErrorCode };
  return rec;
}

/**
 * Reads a whole manifest into memory without taking the lock (tests, benches, small folders; a run and
 * `recpull status` use {@link openManifestView} instead). Missing file → empty replay.
 */
export async function readManifest(out: string): Promise<ManifestReplay> {
  let text: string;
  try {
    text = await readFile(manifestPath(out), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, manifestPath(out));
    return { ...replayManifest(''), exists: false };
  }
  return replayManifest(text);
}

/**
 * A read-only look at an output folder's manifest through its index: what dry runs and `recpull status`
 * use. Nothing below `--out` is created or changed (a stale index is caught up in a private temporary
 * copy). `close()` must be called (idempotent).
 */
export interface ManifestView {
  index: ManifestIndex;
  /** False when there is no manifest file. */
  exists: boolean;
  /** The manifest ends in a line without its newline (a crash mid-write; the next run cuts it off). */
  torn: boolean;
  /** 1-based numbers of unreadable lines. */
  badLines: number[];
  /** Reads the line of `pos`/`len` (from `IndexEntry` or `failedLines`) as a record. Throws E_IO. */
  line(pos: number, len: number): ManifestRecord | undefined;
  close(): Promise<void>;
}

/** Opens a {@link ManifestView} of `out` without taking the lock. Throws E_IO. */
export async function openManifestView(out: string): Promise<ManifestView> {
  const path = manifestPath(out);
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, path);
  }
  try {
    const opened = await ManifestIndex.open({
      file: indexPath(out),
      jsonl: fh,
      readOnly: true,
      parse: parseRecord,
    });
    const handle = fh;
    let closed = false;
    return {
      index: opened.index,
      exists: handle !== undefined,
      torn: opened.torn,
      badLines: opened.badLines,
      line: (pos, len) => (handle ? readLine(handle, path, pos, len) : undefined),
      close: async () => {
        if (closed) return;
        closed = true;
        opened.index.close();
        await handle?.close();
      },
    };
  } catch (err) {
    await fh?.close().catch(() => {});
    throw err instanceof RecpullError ? err : ioError(err, path);
  }
}

/** The record on the JSONL line at byte `pos` (`len` bytes). Throws E_IO when it cannot be read. */
function readLine(fh: FileHandle, path: string, pos: number, len: number): ManifestRecord | undefined {
  const buf = Buffer.alloc(len);
  let got = 0;
  try {
    while (got < len) {
      const n = readSync(fh.fd, buf, got, len - got, pos + got);
      if (n === 0) break;
      got += n;
    }
  } catch (err) {
    throw ioError(err, path);
  }
  return parseRecord(buf.toString('utf8', 0, got).trim());
}

function ioError(err: unknown, path: string): RecpullError {
  return new RecpullError('E_IO', `cannot use the manifest ${path}: ${(err as Error).message}`, {
    cause: err,
  });
}

/**
 * An open manifest: the JSONL with an append handle, looked up through its index
 * (`<out>/.recpull/index.sqlite`, src/core/manifest-index.ts), so no record is held in memory. Appends are
 * grouped (see `append`); each line is fsynced before its index row is written.
 */
export class Manifest {
  /** Lines waiting for the next write + datasync, with their callers. */
  private waiting: { line: string; record: ManifestRecord; done: (err?: unknown) => void }[] = [];
  /** The loop writing `waiting` while it runs. */
  private writing: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    /**
     * The index, caught up with the JSONL; also answers `lookup` (first sight in the run) and path owners
     * for the run.
     */
    readonly index: ManifestIndex,
    /** Line numbers that could not be read (reported once per run as a notice). */
    readonly badLines: number[],
    /** Bytes of the JSONL (where the next line goes). */
    private size: number,
  ) {}

  /**
   * Opens (creating) `<out>/.recpull/manifest.jsonl` and its index, brings the index up to date (built
   * from the JSONL when missing or not matching it), and cuts off a torn last line. Throws E_IO.
   */
  static async open(out: string): Promise<Manifest> {
    const path = manifestPath(out);
    let fh: FileHandle | undefined;
    try {
      await mkdir(stateDir(out), { recursive: true });
      fh = await open(path, 'a+');
      const opened = await ManifestIndex.open({
        file: indexPath(out),
        jsonl: fh,
        readOnly: false,
        parse: parseRecord,
      });
      let size = (await fh.stat()).size;
      if (opened.torn) {
        await fh.truncate(opened.goodBytes);
        await fh.sync();
        size = opened.goodBytes;
        opened.index.restamp(fh); // the cut is ours: not an edit for the next open to rebuild from
      }
      return new Manifest(path, fh, opened.index, opened.badLines, size);
    } catch (err) {
      await fh?.close().catch(() => {});
      if (err instanceof RecpullError) throw err;
      throw ioError(err, path);
    }
  }

  /** What the index says of `key`: status and files of its last line (cheap: no JSONL read). */
  entry(key: string): IndexEntry | undefined {
    return this.index.entry(key);
  }

  /** The latest record of `key`, read from its line in the JSONL. Throws E_IO when it cannot be read. */
  get(key: string): ManifestRecord | undefined {
    const at = this.index.entry(key);
    return at ? readLine(this.fh, this.path, at.pos, at.len) : undefined;
  }

  /**
   * Appends one record and fsyncs it, then indexes it; resolves when both are done. Throws E_IO.
   * Group commit: lines appended while a datasync is under way are written and synced together by the
   * next one, so 16 workers finishing at once cost one datasync, not 16 in a row; each caller still
   * resolves only once its own line is on disk.
   */
  append(record: ManifestRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({
        line,
        record,
        done: (err) => (err === undefined ? resolve() : reject(ioError(err, this.path))),
      });
      this.writing ??= this.writeWaiting();
    });
  }

  /** Writes and syncs what is waiting, batch after batch, until nothing is. */
  private async writeWaiting(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting;
      this.waiting = [];
      try {
        await this.fh.appendFile(batch.map((b) => b.line).join(''), 'utf8');
        await this.fh.datasync();
      } catch (err) {
        for (const b of batch) b.done(err);
        continue;
      }
      for (const b of batch) {
        const len = Buffer.byteLength(b.line);
        const pos = this.size;
        this.size += len;
        try {
          this.index.record(b.record, pos, len, this.fh);
          b.done();
        } catch (err) {
          b.done(err);
        }
      }
    }
    this.writing = undefined;
  }

  /** Waits for pending appends, commits the index and closes both files. */
  async close(): Promise<void> {
    await this.writing;
    try {
      this.index.close(this.fh);
    } finally {
      await this.fh.close();
    }
  }
}
