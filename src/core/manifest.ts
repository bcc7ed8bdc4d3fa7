/**
 * The manifest: `<out>/.recpull/manifest.jsonl`, one JSON object per line, the last line for a key wins
 * (DESIGN.md "Contracts"). Lines are appended and fsynced one at a time, after the file they describe
 * was renamed into place, so a crash leaves at worst a torn last line, which replay ignores and the next
 * open cuts off.
 */
import { type FileHandle, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type ErrorCode, RecpullError } from './errors.js';
import type { ErrorInfo } from './events.js';

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

/** Reads a manifest without taking the lock (for `recpull status`). Missing file → empty replay. */
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

function ioError(err: unknown, path: string): RecpullError {
  return new RecpullError('E_IO', `cannot use the manifest ${path}: ${(err as Error).message}`, {
    cause: err,
  });
}

/** An open manifest: the replayed state plus an append handle. Appends are serialised. */
export class Manifest {
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    readonly records: Map<string, ManifestRecord>,
    private readonly fh: FileHandle,
    /** Line numbers that could not be read (reported once as a notice). */
    readonly badLines: number[],
  ) {}

  /** Opens (creating) `<out>/.recpull/manifest.jsonl`, replays it and cuts off a torn last line. Throws E_IO. */
  static async open(out: string): Promise<Manifest> {
    const path = manifestPath(out);
    try {
      await mkdir(stateDir(out), { recursive: true });
      const replay = await readManifest(out);
      const fh = await open(path, 'a+');
      if (replay.torn) {
        await fh.truncate(replay.goodBytes);
        await fh.sync();
      }
      return new Manifest(path, replay.records, fh, replay.badLines);
    } catch (err) {
      if (err instanceof RecpullError) throw err;
      throw ioError(err, path);
    }
  }

  /** The latest record of `key`. */
  get(key: string): ManifestRecord | undefined {
    return this.records.get(key);
  }

  /** Appends one record and fsyncs it; resolves when it is on disk. Throws E_IO. */
  append(record: ManifestRecord): Promise<void> {
    this.records.set(record.key, record);
    const line = `${JSON.stringify(record)}\n`;
    const next = this.chain.then(async () => {
      await this.fh.appendFile(line, 'utf8');
      await this.fh.datasync();
    });
    this.chain = next.catch(() => {});
    return next.catch((err) => {
      throw ioError(err, this.path);
    });
  }

  /** Waits for pending appends and closes the file. */
  async close(): Promise<void> {
    await this.chain;
    await this.fh.close();
  }
}
