/**
 * The manifest: `<out>/.recpull/manifest.jsonl`, one JSON object per line, the last line for a key wins
 * (DESIGN.md "Contracts"). Lines are appended and fsynced one at a time, after the file they describe
 * was renamed into place, so a crash leaves at worst a torn last line, which replay ignores and the next
 * open cuts off.
 */
import { type FileHandle, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecpullError } from './errors.js';
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

/** What replaying a manifest found. `badLines` are 1-based numbers of unreadable lines (torn last line excluded). */
export interface ManifestReplay {
  records: Map<string, ManifestRecord>;
  /** Byte length of the well-formed prefix (everything up to and including the last newline). */
  goodBytes: number;
  torn: boolean;
  badLines: number[];
}

/** Parses manifest text; a last line without its newline (a crash mid-write) is ignored. */
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
  return {
    records,
    goodBytes: Buffer.byteLength(text.slice(0, lastNewline + 1)),
    torn: tail.trim() !== '',
    badLines,
  };
}

function parseRecord(line: string): ManifestRecord | undefined {
  try {
    const v = JSON.parse(line) as Partial<ManifestRecord>;
    if (
      typeof v.key !== 'string' ||
      (v.status !== 'done' && v.status !== 'failed') ||
      !Array.isArray(v.files)
    ) {
      return undefined;
    }
    return v as ManifestRecord;
  } catch {
    return undefined;
  }
}

/** Reads a manifest without taking the lock (for `recpull status`). Missing file → empty replay. */
export async function readManifest(out: string): Promise<ManifestReplay> {
  let text = '';
  try {
    text = await readFile(manifestPath(out), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, manifestPath(out));
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
