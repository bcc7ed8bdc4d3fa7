/**
 * The manifest's index: `<out>/.recpull/index.sqlite` (node:sqlite), a lookup table kept in step with
 * `manifest.jsonl`, which stays the durable record. Per key it holds the status, the files (path and bytes:
 * enough to decide a skip) and where the key's last line is in the JSONL (for the whole record); per
 * lower-cased path the done key owning it (for the PathAllocator). Nothing of it is held in JS memory, so
 * a run's memory does not grow with the archive.
 *
 * The index stores how far into the JSONL it has read (`offset`, bytes, always just after a newline), how
 * many lines that was, and a fingerprint of the JSONL (sha256 of its first and last 4 KiB before `offset`).
 * On open, a missing, unreadable or older-schema index, or a JSONL that is shorter than `offset` or whose
 * fingerprint differs (replaced, truncated, rewritten), means a rebuild from byte 0; otherwise the index
 * catches up from `offset`. Rebuilding from the JSONL is always correct.
 *
 * The fingerprint does not see an edit in the middle that keeps the file's length (a size changed by hand
 * from 1234 to 1235). So each commit also stores the JSONL's `stamp`: inode, mtime (ns) and size as the
 * commit saw them. A JSONL with another inode (an editor or `sed -i` wrote a new file), or of the same size
 * but another mtime (written in place), means a rebuild. One that only grew since is caught up as before:
 * that is what a run killed between its appends and its next commit leaves.
 *
 * Writes follow the JSONL: a line is appended and fsynced first, then its index row is written in a
 * transaction committed every `COMMIT_EVERY` lines or `COMMIT_MS`, and on close, together with the new
 * offset; a crash leaves the index behind the JSONL, never ahead, and the next open catches up.
 *
 * A read-only open (dry runs, `recpull status`) never writes below `--out`: a current index is opened
 * read-only; a stale one is copied into a private temporary database (SQLite's `''`, deleted on close,
 * in the system's temp folder) and caught up there; without a usable index one is built there from the JSONL.
 *
 * Every connection also has a temporary table of the keys seen in this run (`lookup`), so duplicate
 * detection needs no Set of every key in JS memory; it lives in SQLite's temp files, not below `--out`.
 */
import { createHash } from 'node:crypto';
import { fstatSync, readSync } from 'node:fs';
import { type FileHandle, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { RecpullError } from './errors.js';
import type { ManifestRecord } from './manifest.js';

/** Version of the tables below; an index of another version is rebuilt. */
const SCHEMA_VERSION = '2';
/** Bytes at the start and before `offset` that the fingerprint covers. */
const FINGERPRINT_BYTES = 4096;
/** Appended lines per index transaction, and the longest a transaction stays open (ms). */
const COMMIT_EVERY = 1000;
const COMMIT_MS = 2000;
/** Lookups between two checks of the read transaction (begun? older than `COMMIT_MS`?). */
const READ_CHECK_EVERY = 64;
/** Lines read per transaction while catching up (each commit also stores the offset reached). */
const CATCH_UP_BATCH = 50_000;
/** Bytes read from the JSONL at a time while catching up. */
const READ_CHUNK = 1024 * 1024;

const DONE = 1;
const FAILED = 0;

/** A file of an indexed record: `path` relative to `--out` (POSIX), `bytes` its size. */
export interface IndexedFile {
  path: string;
  bytes: number;
}

/**
 * What the index knows of a key: its last line's status and files, and where that line is in the JSONL
 * (`pos`, byte offset, and `len`, bytes including the newline).
 */
export interface IndexEntry {
  status: 'done' | 'failed';
  files: IndexedFile[];
  pos: number;
  len: number;
}

/** A row of `getRecord`: status, files (JSON of [path, bytes] pairs), pos, len, id. */
type RecordRow = [number, string, number, number, number];

function toEntry(row: RecordRow): IndexEntry {
  return { status: row[0] === DONE ? 'done' : 'failed', files: parseFiles(row[1]), pos: row[2], len: row[3] };
}

/**
 * The files of a record from the JSON `put` stores (`[[path, bytes], …]`). The usual record, one file
 * whose path has no escape (`[["a/b.wav",123]]`), is cut out by position: JSON.stringify escapes `"`,
 * `\`, control characters and lone surrogates, all with a backslash, so a path without one is the text
 * between the quotes. Anything else goes through JSON.parse; the result is the same either way (a
 * re-run over 1M done keys spent 0.85 s in toEntry; parsing alone went from 0.49 to 0.18 µs per record).
 */
export function parseFiles(json: string): IndexedFile[] {
  const q = json.indexOf('"', 3);
  const end = json.length - 2; // the `]]`
  if (
    q > 3 &&
    json.startsWith('[["') &&
    json.charCodeAt(q + 1) === 44 && // ,
    json.endsWith(']]') &&
    json.lastIndexOf('\\', q) < 3 &&
    isPlainInteger(json, q + 2, end)
  ) {
    return [{ path: json.slice(3, q), bytes: Number(json.slice(q + 2, end)) }];
  }
  return (JSON.parse(json) as [string, number][]).map(([path, bytes]) => ({ path, bytes }));
}

/** `s.slice(from, to)` is a JSON integer of at most 15 digits: no sign, no leading zero, no fraction. */
function isPlainInteger(s: string, from: number, to: number): boolean {
  if (to <= from || to - from > 15 || (s.charCodeAt(from) === 48 && to - from > 1)) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Parses one JSONL line into a record; undefined for an unreadable line. */
export type LineParser = (line: string) => ManifestRecord | undefined;

/** What opening an index found in the JSONL besides the records. */
export interface IndexOpenResult {
  index: ManifestIndex;
  /** Byte length of the well-formed prefix of the JSONL (up to and including its last newline). */
  goodBytes: number;
  /** The JSONL ends in a line without its newline (a writer cuts it off). */
  torn: boolean;
  /** 1-based numbers of unreadable lines, as `replayManifest` counts them (a torn record is not one). */
  badLines: number[];
}

/** Options of {@link ManifestIndex.open}. */
export interface IndexOpenOptions {
  /** The index file (`<out>/.recpull/index.sqlite`). */
  file: string;
  /** The JSONL, open for reading (undefined when there is none: an empty index). */
  jsonl: FileHandle | undefined;
  /** True: never create, change or delete anything at `file` (a private copy is used when stale). */
  readOnly: boolean;
  parse: LineParser;
}

let sqlite: typeof import('node:sqlite') | undefined;

/**
 * node:sqlite, loaded on first use. Node 22 prints an ExperimentalWarning for it on stderr (cron mail,
 * `--json` consumers reading stderr); that one warning is dropped while the module loads.
 */
function sqliteModule(): typeof import('node:sqlite') {
  if (sqlite) return sqlite;
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/sqlite/i.test(text)) return;
    (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    sqlite = createRequire(import.meta.url)('node:sqlite') as typeof import('node:sqlite');
  } finally {
    process.emitWarning = emitWarning;
  }
  return sqlite;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY, status INTEGER NOT NULL, files TEXT NOT NULL, bytes INTEGER NOT NULL,
    pos INTEGER NOT NULL, len INTEGER NOT NULL, id INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS owners (path TEXT PRIMARY KEY, key TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS bad (line INTEGER PRIMARY KEY);
`;

/** What the meta table holds. */
interface Meta {
  version: string;
  offset: number;
  lines: number;
  fingerprint: string;
  /** The JSONL's `inode:mtimeNs:size` at the last commit ('' in an index written before stamps). */
  stamp: string;
  /** The `id` the next new key gets (keys are numbered 0, 1, 2… in the order they were first indexed). */
  nextId: number;
}

/** A compact, SQLite-backed lookup of the manifest; see the module comment. */
export class ManifestIndex {
  private readonly getRecord: StatementSync;
  private readonly getOwner: StatementSync;
  private readonly putRecord: StatementSync | undefined;
  private readonly putOwner: StatementSync | undefined;
  private readonly dropOwner: StatementSync | undefined;
  private readonly putBad: StatementSync | undefined;
  private readonly putMeta: StatementSync | undefined;
  private readonly markSeen: StatementSync;
  private pending = 0;
  private openedAt = 0;
  /** Lookups left before `readBatch` looks at the transaction and the clock again. */
  private readsBeforeCheck = 0;
  private closed = false;
  /**
   * Keys seen in this run among those indexed before its first lookup, one bit per `id` below `idLimit`
   * (1M keys: 125 KB). Such a key's repeat is found by its row's id, with no write to the `seen` table;
   * other keys (new ones, and those indexed during the run) go through the table. Set on first use.
   */
  private seenIds: Uint8Array | undefined;
  private idLimit = 0;

  private constructor(
    private readonly db: DatabaseSync,
    /** False for the read-only view of a current index (nothing may be written to it). */
    readonly writable: boolean,
    private meta: Meta,
  ) {
    db.exec('PRAGMA temp_store = FILE; PRAGMA busy_timeout = 30000');
    db.exec('CREATE TEMP TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY) WITHOUT ROWID');
    this.markSeen = db.prepare('INSERT INTO temp.seen (key) VALUES (?) ON CONFLICT DO NOTHING');
    // rows as arrays: no object with named properties built per lookup (a skip pass makes one per key)
    this.getRecord = db.prepare('SELECT status, files, pos, len, id FROM main.records WHERE key = ?');
    this.getRecord.setReturnArrays(true);
    this.getOwner = db.prepare('SELECT key FROM main.owners WHERE path = ?');
    this.getOwner.setReturnArrays(true);
    if (writable) {
      this.putRecord = db.prepare(
        `INSERT INTO records (key, status, files, bytes, pos, len, id) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET status = excluded.status, files = excluded.files,
           bytes = excluded.bytes, pos = excluded.pos, len = excluded.len`,
      );
      this.putOwner = db.prepare('INSERT OR REPLACE INTO owners (path, key) VALUES (?, ?)');
      this.dropOwner = db.prepare('DELETE FROM owners WHERE path = ? AND key = ?');
      this.putBad = db.prepare('INSERT OR IGNORE INTO bad (line) VALUES (?)');
      this.putMeta = db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)');
    }
  }

  /**
   * Opens the index of a JSONL and brings it up to the JSONL's last complete line (see the module
   * comment for when it is rebuilt and what a read-only open does). The JSONL is only read; cutting a
   * torn last line is the caller's job (`torn`, `goodBytes`).
   *
   * @throws RecpullError `E_IO` when the JSONL cannot be read or the index cannot be created or written.
   */
  static async open(opts: IndexOpenOptions): Promise<IndexOpenResult> {
    const { DatabaseSync } = sqliteModule();
    const size = opts.jsonl ? (await opts.jsonl.stat()).size : 0;
    const existing = await usableIndex(opts.file, opts.jsonl, size, opts.readOnly);
    let index: ManifestIndex;
    try {
      if (opts.readOnly) {
        if (existing && !(await hasNewLines(opts.jsonl, existing.meta.offset, size))) {
          index = new ManifestIndex(existing.db, false, existing.meta);
        } else {
          existing?.db.close();
          index = ManifestIndex.fresh(new DatabaseSync(''));
          if (existing) index.copyFrom(opts.file, existing.meta);
        }
      } else if (existing) {
        index = new ManifestIndex(existing.db, true, existing.meta);
      } else {
        await removeIndex(opts.file);
        index = ManifestIndex.fresh(new DatabaseSync(opts.file));
      }
    } catch (err) {
      existing?.db.close();
      throw indexError(err, opts.file);
    }
    try {
      const caught = opts.jsonl
        ? await index.catchUp(opts.jsonl, size, opts.parse)
        : { goodBytes: 0, torn: false, tailBadLine: undefined };
      const badLines = index.badLines();
      if (caught.tailBadLine !== undefined) badLines.push(caught.tailBadLine);
      return { index, goodBytes: caught.goodBytes, torn: caught.torn, badLines };
    } catch (err) {
      index.close();
      throw err instanceof RecpullError ? err : indexError(err, opts.file);
    }
  }

  /** A new, empty index in `db` (its tables created, offset 0). */
  private static fresh(db: DatabaseSync): ManifestIndex {
    db.exec(SCHEMA);
    const meta: Meta = {
      version: SCHEMA_VERSION,
      offset: 0,
      lines: 0,
      fingerprint: '',
      stamp: '',
      nextId: 0,
    };
    const index = new ManifestIndex(db, true, meta);
    index.begin();
    index.storeMeta();
    index.commit();
    return index;
  }

  /** Copies every row of the index at `file` (whose meta is `meta`) into this (empty) index. */
  private copyFrom(file: string, meta: Meta): void {
    this.db.prepare('ATTACH DATABASE ? AS src').run(file);
    try {
      this.db.exec(`BEGIN;
        INSERT INTO main.records SELECT * FROM src.records;
        INSERT INTO main.owners SELECT * FROM src.owners;
        INSERT INTO main.bad SELECT * FROM src.bad;
        COMMIT;`);
    } finally {
      this.db.exec('DETACH DATABASE src');
    }
    this.meta = { ...meta };
    this.begin();
    this.storeMeta();
    this.commit();
  }

  /** The last line's status and files of `key`, or undefined when the manifest has no line for it. */
  entry(key: string): IndexEntry | undefined {
    this.readBatch();
    const row = this.getRecord.get(key) as RecordRow | undefined;
    return row ? toEntry(row) : undefined;
  }

  /**
   * One ref of a run's input: whether `key` is seen for the first time in this run (`first`, exact; see
   * `markFirst`) and, when it is, what the index holds for it (`entry`). One query for both; a re-run
   * over 100 000 done keys spends its time here and in `stat`.
   */
  lookup(key: string): { first: boolean; entry: IndexEntry | undefined } {
    this.readBatch();
    const row = this.getRecord.get(key) as RecordRow | undefined;
    if (!this.markFirst(key, row)) return { first: false, entry: undefined };
    return { first: true, entry: row ? toEntry(row) : undefined };
  }

  /** The key of the done record owning the lower-cased relative path `pathLower`, if any. */
  ownerOf(pathLower: string): string | undefined {
    this.readBatch();
    const row = this.getOwner.get(pathLower) as unknown as [string] | undefined;
    return row?.[0];
  }

  /**
   * Marks `key` (whose row is `row`) seen; true the first time in this connection's life (one run), false
   * for a repeat. Exact: the key itself (in a temporary table) or its row's id (`seenIds`), never a hash.
   */
  private markFirst(key: string, row: RecordRow | undefined): boolean {
    if (!this.seenIds) {
      this.idLimit = this.meta.nextId;
      this.seenIds = new Uint8Array((this.idLimit + 7) >> 3);
    }
    const id = row?.[4];
    if (id !== undefined && id < this.idLimit) {
      const bit = 1 << (id & 7);
      const at = id >> 3;
      const was = (this.seenIds[at] as number) & bit;
      this.seenIds[at] = (this.seenIds[at] as number) | bit;
      return was === 0;
    }
    return Number(this.markSeen.run(key).changes) > 0;
  }

  /**
   * Counts of the indexed records: keys whose last line is done / failed, and the bytes of the done ones.
   */
  summary(): { done: number; failed: number; bytes: number } {
    const rows = this.db
      .prepare('SELECT status, count(*) AS n, coalesce(sum(bytes), 0) AS bytes FROM records GROUP BY status')
      .all() as { status: number; n: number; bytes: number }[];
    const done = rows.find((r) => r.status === DONE);
    return {
      done: done?.n ?? 0,
      failed: rows.find((r) => r.status === FAILED)?.n ?? 0,
      bytes: done?.bytes ?? 0,
    };
  }

  /** Where the last line of every failed key is in the JSONL, in key order (for `recpull status`). */
  *failedLines(): Generator<{ key: string; pos: number; len: number }> {
    const stmt = this.db.prepare('SELECT key, pos, len FROM records WHERE status = ? ORDER BY key');
    for (const row of stmt.iterate(FAILED)) yield row as { key: string; pos: number; len: number };
  }

  /**
   * Records that `rec` is the line at byte `pos` (`len` bytes, newline included) of the JSONL, the
   * JSONL's complete lines now ending at `pos + len`. Call only after the line is on disk. Written in the
   * current batch (committed by `flush`, `close`, or when the batch is full or old).
   */
  record(rec: ManifestRecord, pos: number, len: number, jsonl: FileHandle): void {
    this.begin();
    this.put(rec, pos, len);
    this.meta.offset = pos + len;
    this.meta.lines++;
    this.pending++;
    if (this.pending >= COMMIT_EVERY || Date.now() - this.openedAt >= COMMIT_MS) this.flush(jsonl);
  }

  /**
   * Commits the current batch with the offset reached and the JSONL's fingerprint there. A transaction
   * that only looked keys up (a re-run that skipped everything) just ends: the meta is unchanged, and
   * writing it again cost the index file and its journal three fsyncs.
   */
  flush(jsonl: FileHandle): void {
    if (!this.db.isTransaction) return;
    if (this.pending === 0) {
      this.commit();
      return;
    }
    this.meta.fingerprint = fingerprintSync(jsonl, this.meta.offset);
    this.meta.stamp = stampSync(jsonl);
    this.storeMeta();
    this.commit();
  }

  /**
   * Records the JSONL's stamp again after the caller cut a torn last line off it (its size and mtime
   * changed by recpull's own hand, not by an edit): without this, the next open could take the cut for an
   * edit in place and rebuild. Nothing for a read-only index.
   */
  restamp(jsonl: FileHandle): void {
    if (!this.writable || this.closed) return;
    this.begin();
    this.meta.stamp = stampSync(jsonl);
    this.storeMeta();
    this.commit();
  }

  /** Commits what is pending (given the JSONL) and closes the database. Idempotent. */
  close(jsonl?: FileHandle): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (jsonl && this.writable) this.flush(jsonl);
    } finally {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      this.db.close();
    }
  }

  private put(rec: ManifestRecord, pos: number, len: number): void {
    const old = this.getRecord.get(rec.key) as RecordRow | undefined;
    if (old?.[0] === DONE) {
      for (const [path] of JSON.parse(old[1]) as [string, number][])
        this.dropOwner?.run(path.toLowerCase(), rec.key);
    }
    const done = rec.status === 'done';
    const files = JSON.stringify(rec.files.map((f) => [f.path, f.bytes]));
    const bytes = done ? rec.files.reduce((n, f) => n + f.bytes, 0) : 0;
    this.putRecord?.run(
      rec.key,
      done ? DONE : FAILED,
      files,
      bytes,
      pos,
      len,
      old?.[4] ?? this.meta.nextId++,
    );
    if (done) for (const f of rec.files) this.putOwner?.run(f.path.toLowerCase(), rec.key);
  }

  /**
   * Lookups and the run's seen-keys go through one transaction, renewed every `COMMIT_MS` when no index
   * write is pending: one lock and one journal per batch instead of per key (100k skipped keys: the
   * lookups went from about 30 µs to a few µs each). A pending write keeps its own batching (`record`).
   */
  private readBatch(): void {
    // Checked once per READ_CHECK_EVERY lookups (and at once after a commit): `isTransaction` is a call
    // into SQLite and the clock a system call, 0.2 µs per key of a 1M re-run. Lookups made outside a
    // transaction meanwhile are still right, only slower.
    if (this.readsBeforeCheck-- > 0) return;
    this.readsBeforeCheck = READ_CHECK_EVERY - 1;
    if (!this.db.isTransaction) this.begin();
    else if (this.pending === 0 && Date.now() - this.openedAt >= COMMIT_MS) {
      this.commit();
      this.begin();
    }
  }

  private begin(): void {
    if (this.db.isTransaction) return;
    this.db.exec('BEGIN');
    this.openedAt = Date.now();
    this.pending = 0;
  }

  private commit(): void {
    if (this.db.isTransaction) this.db.exec('COMMIT');
    this.pending = 0;
    this.readsBeforeCheck = 0;
  }

  private storeMeta(): void {
    const m = this.meta;
    this.putMeta?.run('version', m.version);
    this.putMeta?.run('offset', String(m.offset));
    this.putMeta?.run('lines', String(m.lines));
    this.putMeta?.run('fingerprint', m.fingerprint);
    this.putMeta?.run('stamp', m.stamp);
    this.putMeta?.run('nextId', String(m.nextId));
  }

  private badLines(): number[] {
    const rows = this.db.prepare('SELECT line FROM bad ORDER BY line').all() as { line: number }[];
    return rows.map((r) => r.line);
  }

  /**
   * Reads the JSONL from the stored offset to `size`, indexing every complete line (unreadable ones are
   * remembered by number), committing every `CATCH_UP_BATCH` lines with the offset reached. What follows
   * the last newline is left alone and reported (`torn`; `tailBadLine` when it does not start like a
   * record, as `replayManifest` counts it).
   */
  private async catchUp(
    jsonl: FileHandle,
    size: number,
    parse: LineParser,
  ): Promise<{ goodBytes: number; torn: boolean; tailBadLine: number | undefined }> {
    let carry = Buffer.alloc(0);
    let carryPos = this.meta.offset; // file position of carry[0]
    let line = this.meta.lines;
    let batch = 0;
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    let at = this.meta.offset;
    try {
      while (at < size) {
        const { bytesRead } = await jsonl.read(chunk, 0, Math.min(READ_CHUNK, size - at), at);
        if (bytesRead === 0) break;
        at += bytesRead;
        const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk;
        const end = carry.length > 0 ? data.length : bytesRead;
        let start = 0;
        for (let nl = data.indexOf(10, start); nl !== -1 && nl < end; nl = data.indexOf(10, start)) {
          line++;
          const text = data.toString('utf8', start, nl);
          if (text.trim() !== '') {
            const rec = parse(text);
            this.begin();
            if (rec) this.put(rec, carryPos + start, nl + 1 - start);
            else this.putBad?.run(line);
          }
          start = nl + 1;
          if (++batch >= CATCH_UP_BATCH) {
            batch = 0;
            this.settleAt(jsonl, carryPos + start, line);
          }
        }
        carry = Buffer.from(data.subarray(start, end)); // a copy: `chunk` is reused
        carryPos += start;
      }
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw new RecpullError('E_IO', `cannot index the manifest: ${(err as Error).message}`, { cause: err });
    }
    if (this.writable && (carryPos !== this.meta.offset || this.db.isTransaction))
      this.settleAt(jsonl, carryPos, line);
    const tail = carry.toString('utf8');
    const torn = tail.trim() !== '';
    return { goodBytes: carryPos, torn, tailBadLine: torn && !tail.startsWith('{"') ? line + 1 : undefined };
  }

  /** Commits with the JSONL read up to `offset` (`lines` lines). */
  private settleAt(jsonl: FileHandle, offset: number, lines: number): void {
    this.begin();
    this.meta.offset = offset;
    this.meta.lines = lines;
    this.meta.fingerprint = fingerprintSync(jsonl, offset);
    this.meta.stamp = stampSync(jsonl);
    this.storeMeta();
    this.commit();
  }
}

/**
 * The index at `file` when it can be used for the JSONL (same schema version, `offset` within the JSONL
 * and the JSONL's fingerprint there unchanged), opened; else undefined (missing, unreadable, or stale in
 * a way only a rebuild fixes).
 */
async function usableIndex(
  file: string,
  jsonl: FileHandle | undefined,
  size: number,
  readOnly: boolean,
): Promise<{ db: DatabaseSync; meta: Meta } | undefined> {
  if (!jsonl) return undefined;
  const exists = await stat(file).then(
    () => true,
    () => false,
  );
  if (!exists) return undefined;
  const { DatabaseSync } = sqliteModule();
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file, { readOnly });
    const rows = db.prepare('SELECT k, v FROM meta').all() as { k: string; v: string }[];
    const get = (k: string) => rows.find((r) => r.k === k)?.v;
    const meta: Meta = {
      version: get('version') ?? '',
      offset: Number(get('offset')),
      lines: Number(get('lines')),
      fingerprint: get('fingerprint') ?? '',
      stamp: get('stamp') ?? '',
      nextId: Number(get('nextId')),
    };
    const ok =
      meta.version === SCHEMA_VERSION &&
      Number.isSafeInteger(meta.offset) &&
      Number.isSafeInteger(meta.nextId) &&
      Number.isSafeInteger(meta.lines) &&
      meta.offset <= size &&
      fingerprintSync(jsonl, meta.offset) === meta.fingerprint &&
      !rewrittenSince(meta.stamp, stampSync(jsonl));
    if (ok) return { db, meta };
  } catch {
    // not a database, locked by a crashed writer's hot journal in a read-only open, or half-written
  }
  db?.close();
  return undefined;
}

/** True when the JSONL holds a newline between `offset` and `size` (lines the index has not read). */
async function hasNewLines(jsonl: FileHandle | undefined, offset: number, size: number): Promise<boolean> {
  if (!jsonl || offset >= size) return false;
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  for (let at = offset; at < size;) {
    const { bytesRead } = await jsonl.read(buf, 0, Math.min(READ_CHUNK, size - at), at);
    if (bytesRead === 0) return false;
    if (buf.subarray(0, bytesRead).includes(10)) return true;
    at += bytesRead;
  }
  return false;
}

/**
 * The fingerprint of the JSONL's first `offset` bytes: sha256 of its first and of its last
 * `FINGERPRINT_BYTES` bytes before `offset`, and `offset` itself. A replaced, truncated or rewritten
 * JSONL changes it (short of an identical head and tail, which is then the same record).
 */
function fingerprintSync(jsonl: FileHandle, offset: number): string {
  const hash = createHash('sha256').update(String(offset));
  const n = Math.min(FINGERPRINT_BYTES, offset);
  const buf = Buffer.alloc(n);
  for (const from of [0, offset - n]) {
    let got = 0;
    while (got < n) {
      const r = readSync(jsonl.fd, buf, got, n - got, from + got);
      if (r === 0) break;
      got += r;
    }
    hash.update(buf.subarray(0, got)).update('|');
  }
  return hash.digest('hex');
}

/** The JSONL's `inode:mtimeNs:size` (see `Meta.stamp`). */
function stampSync(jsonl: FileHandle): string {
  const st = fstatSync(jsonl.fd, { bigint: true });
  return `${st.ino}:${st.mtimeNs}:${st.size}`;
}

/**
 * Whether the JSONL whose stamp is `now` was rewritten since the commit that stored `then`: another inode,
 * or the same size with another mtime (written in place). Grown since is not rewritten (a run killed after
 * appending, before committing), nor is an index without a stamp (written before stamps were kept).
 */
function rewrittenSince(then: string, now: string): boolean {
  if (then === '' || then === now) return false;
  const [inoThen, mtimeThen, sizeThen] = then.split(':');
  const [inoNow, mtimeNow, sizeNow] = now.split(':');
  if (inoThen !== inoNow) return true;
  return sizeThen === sizeNow && mtimeThen !== mtimeNow;
}

/** Deletes an index and SQLite's side files (journal, WAL, shared memory); missing files are fine. */
async function removeIndex(file: string): Promise<void> {
  for (const f of [file, `${file}-journal`, `${file}-wal`, `${file}-shm`]) await rm(f, { force: true });
}

function indexError(err: unknown, file: string): RecpullError {
  return new RecpullError('E_IO', `cannot use the manifest index ${file}: ${(err as Error).message}`, {
    cause: err,
  });
}
