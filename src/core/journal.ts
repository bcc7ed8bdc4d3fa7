/**
 * `<out>/.recpull/parts`: one JSON line `{key, path}` per `.part` a run starts, written before the `.part`
 * is created. The next run (holding the lock) reads it back to undo what a crash or SIGKILL left:
 * - a `<path>.part` still there is deleted;
 * - a whole `<path>` whose key has no `done` line was renamed into place just before the crash, before its
 *   manifest line was written: it is checked, hashed and adopted into the manifest instead of being
 *   downloaded again under another name.
 * - a bundle folder (`{key, path, bundle: true}`, src/core/bundle.ts): see `recoverBundle`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AudioValidator } from '../formats/audio.js';
import { recoverBundle } from './bundle-recovery.js';
import type { FileRecord } from './manifest.js';
import { stateDir } from './manifest.js';
import { FdFile } from './fd-file.js';
import { resolveInsideOut } from './paths.js';

/** What `recover` found: `.part` files removed, and whole files adopted (key → file record). */
export interface Recovery {
  removed: number;
  recovered: { key: string; file: FileRecord }[];
}

/** The journal of `.part` files of one output folder (see the module comment). Used only under the folder's lock. */
export class PartJournal {
  private readonly path: string;
  /** The journal, open for appending from the first `add` to `close` (one write per `.part`, no open). */
  private file: Promise<FdFile> | undefined;
  constructor(private readonly out: string) {
    this.path = join(stateDir(out), 'parts');
  }

  /**
   * Records that `key` is about to write `<rel>.part` (rel: relative final path), or with `bundle` the folder
   * `rel` of a zip bundle (recovered by `recoverBundle`, src/core/bundle.ts). One append to a file kept
   * open (not an open, a write and a close per recording). No fsync: the line only has to reach the file
   * before the `.part` does, and both go through the same page cache (a power cut that loses the line
   * loses the `.part` too, or leaves it for a re-download).
   *
   * @throws the file system's error (`ENOSPC`...; the sink maps it to `E_NO_SPACE`/`E_IO`).
   */
  async add(key: string, rel: string, opts: { bundle?: boolean } = {}): Promise<void> {
    this.file ??= FdFile.open(this.path, 'a');
    const file = await this.file;
    await file.writeAll(
      Buffer.from(`${JSON.stringify({ key, path: rel, ...(opts.bundle ? { bundle: true } : {}) })}\n`),
    );
  }

  /** Closes the journal's file once its pending appends are done (idempotent); a later `add` opens it again. */
  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.then(
      (f) => f.close(),
      () => {},
    );
  }

  /**
   * Undoes an interrupted run (see the module comment), then empties the journal. `isDone(key)` says
   * whether the manifest already has a `done` line for the key. A torn or foreign line is ignored.
   */
  async recover(isDone: (key: string) => boolean): Promise<Recovery> {
    const claims = await this.read();
    if (!claims) return { removed: 0, recovered: [] };
    const { entries, bundles } = claims;
    const result: Recovery = { removed: 0, recovered: [] };
    for (const [rel, key] of entries) {
      if (bundles.has(rel)) {
        result.removed += await recoverBundle(this.out, rel, isDone(key));
        continue;
      }
      let abs: string;
      try {
        abs = await resolveInsideOut(this.out, rel); // never delete through a symlink below out
      } catch {
        continue;
      }
      try {
        await rm(`${abs}.part`);
        result.removed++;
      } catch {
        // not there: renamed or already deleted
      }
      if (isDone(key)) continue;
      const file = await checkWholeFile(abs, rel);
      if (file) result.recovered.push({ key, file });
    }
    await writeFile(this.path, '');
    return result;
  }

  /**
   * What `recover` would adopt, touching nothing (a dry run): the whole files of keys without a `done`
   * line (`isDone`), checked and hashed the same way. `.part` files and bundle folders are left as they
   * are (they are never adopted).
   */
  async adoptable(isDone: (key: string) => boolean): Promise<Recovery['recovered']> {
    const { entries, bundles } = (await this.read()) ?? { entries: new Map(), bundles: new Set() };
    const found: Recovery['recovered'] = [];
    for (const [rel, key] of entries) {
      if (bundles.has(rel) || isDone(key)) continue;
      let abs: string;
      try {
        abs = await resolveInsideOut(this.out, rel);
      } catch {
        continue;
      }
      const file = await checkWholeFile(abs, rel);
      if (file) found.push({ key, file });
    }
    return found;
  }

  /**
   * The journal's claims (relative path → key, the last claim of a path winning) and its bundle folders;
   * undefined when there is no journal to read.
   */
  private async read(): Promise<{ entries: Map<string, string>; bundles: Set<string> } | undefined> {
    const entries = new Map<string, string>();
    const bundles = new Set<string>();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return undefined;
    }
    for (const line of text.split('\n')) {
      try {
        const v = JSON.parse(line) as { key?: unknown; path?: unknown; bundle?: unknown };
        if (typeof v.key === 'string' && typeof v.path === 'string') entries.set(v.path, v.key);
        if (v.bundle === true && typeof v.path === 'string') bundles.add(v.path);
      } catch {
        // torn last line
      }
    }
    return { entries, bundles };
  }

  /** Empties the journal (every `.part` of the run was renamed or deleted). */
  async clear(): Promise<void> {
    await writeFile(this.path, '').catch(() => {});
  }
}

/** Hashes and validates a file renamed into place; undefined when it is missing or not whole audio. */
async function checkWholeFile(abs: string, rel: string): Promise<FileRecord | undefined> {
  const hash = createHash('sha256');
  const validator = new AudioValidator();
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(abs)) {
      const b = chunk as Buffer;
      hash.update(b);
      validator.push(b);
      bytes += b.length;
    }
    const audio = validator.end();
    return { path: rel, bytes, sha256: hash.digest('hex'), contentType: audio.contentType };
  } catch {
    return undefined;
  }
}
