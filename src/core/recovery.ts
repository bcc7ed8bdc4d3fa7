/**
 * The output folder's state for one run, and crash recovery: create `<out>/.recpull`, take the lock, replay
 * the manifest (a torn last line is cut off), then undo what an interrupted run left (the `.part` journal:
 * leftover `.part` files deleted, whole files renamed just before a crash adopted as done). A dry run only
 * reads the manifest and touches nothing.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RecpullError } from './errors.js';
import { type EventSink, now } from './events.js';
import { PartJournal } from './journal.js';
import { clearStaging } from './bundle.js';
import { acquireLock } from './lock.js';
import { describeLines, Manifest, openManifestView, stateDir } from './manifest.js';
import type { IndexedFile, ManifestIndex } from './manifest-index.js';
import { checkOutFolder, exists, forgetRealFolders, PathAllocator } from './paths.js';

/** What a run works with. `manifest` and `journal` are absent in a dry run. */
export interface FolderState {
  /**
   * Dry run only: whole files an interrupted run renamed into place without recording them (key → files),
   * which a real run would adopt as done (`PartJournal.adoptable`); the dry run skips them as it would.
   */
  adoptable?: Map<string, IndexedFile[]>;
  /**
   * The manifest's index: `entry(key)` (status and files of a key's last line), `lookup(key).first`
   * (duplicate keys within this run). Closed by `manifest.close()`, or by `release()` in a dry run.
   */
  index: ManifestIndex;
  manifest?: Manifest;
  journal?: PartJournal;
  paths: PathAllocator;
  /** Releases the lock (idempotent); in a dry run, closes the read-only index. */
  release(): Promise<void>;
}

/** Options of {@link openFolder}. */
export interface OpenFolderOptions {
  out: string;
  dryRun: boolean;
  emit: EventSink;
  /** Called if the lock is lost while the run goes on (its staleness was detected by another process). */
  onLockLost: (err: RecpullError) => void;
  /** The run's stop signal: ends a wait for another run's acquisition of the lock (its reason is thrown). */
  signal?: AbortSignal;
}

/**
 * Opens the output folder for a run. Throws `E_USAGE` (`out` is a file, its `.recpull` is not a real
 * folder, or `out` cannot be created or written as given: `UNUSABLE_OUT`), `E_IO` (the disk fails),
 * `E_LOCKED` (another run holds the lock), or what reading the manifest throws; on a throw nothing stays
 * locked.
 */
export async function openFolder(opts: OpenFolderOptions): Promise<FolderState> {
  const { out, emit } = opts;
  forgetRealFolders(); // folders seen by an earlier run in this process may be gone
  try {
    await checkOutFolder(out);
  } catch (err) {
    throw outFolderError(err, `cannot use --out ${out}`);
  }
  if (opts.dryRun) {
    const view = await openManifestView(out); // look, touch nothing
    const state: FolderState = {
      index: view.index,
      paths: allocatorFor(out, view.index),
      release: () => view.close(),
    };
    try {
      const found = await new PartJournal(out).adoptable((key) => view.index.entry(key)?.status === 'done');
      if (found.length > 0) {
        state.adoptable = new Map(
          found.map(({ key, file }) => [key, [{ path: file.path, bytes: file.bytes }]]),
        );
        emit({
          type: 'notice',
          at: now(),
          level: 'info',
          message: `an interrupted run left ${found.length} whole file(s) that a real run records as done; counted as skipped`,
        });
      }
    } catch (err) {
      await view.close();
      throw err;
    }
    return state;
  }
  try {
    await makeFolder(stateDir(out));
  } catch (err) {
    throw outFolderError(err, `cannot create ${stateDir(out)}`);
  }
  const releaseLock = await acquireLock(
    out,
    (err) => opts.onLockLost(new RecpullError('E_LOCKED', `lost the lock of ${out}: ${err.message}`)),
    opts.signal,
  ).catch((err: unknown) => {
    if (opts.signal?.aborted && err === opts.signal.reason) throw err; // stopped while waiting: as it is
    throw outFolderError(err, `cannot lock ${out}`); // a read-only --out (EROFS) is a usage error too
  });
  let released = false;
  const journal = new PartJournal(out);
  const release = async () => {
    if (released) return;
    released = true;
    await journal.close();
    await releaseLock();
  };
  let manifest: Manifest | undefined;
  try {
    manifest = await Manifest.open(out);
    const m = manifest;
    const recovery = await journal.recover((key) => m.entry(key)?.status === 'done');
    const removed = recovery.removed + (await clearStaging(out)); // unpacked-but-uncommitted bundles
    const { recovered } = recovery;
    for (const { key, file } of recovered) {
      await manifest.append({ key, status: 'done', files: [file], attempts: 0, at: now() });
    }
    if (removed + recovered.length > 0) {
      emit({
        type: 'notice',
        at: now(),
        level: 'info',
        message: `an interrupted run left ${removed} .part file(s), now removed, and ${recovered.length} whole file(s), now recorded as done`,
      });
    }
    if (manifest.badLines.length > 0) {
      emit({
        type: 'notice',
        at: now(),
        level: 'warn',
        message: `manifest lines ${describeLines(manifest.badLines)} are unreadable and were ignored`,
      });
    }
    const index = manifest.index;
    return { index, manifest, journal, paths: allocatorFor(out, index), release };
  } catch (err) {
    await manifest?.close().catch(() => {});
    await release();
    throw err;
  }
}

/**
 * Codes of an `--out` that cannot be used as given (not writable, a file in its path, too long, a loop of
 * links, a read-only file system): the user's to change, so `E_USAGE` (exit 2, nothing attempted), not
 * `E_IO`, whose exit 1 says a recording failed. Anything else (a failing disk) stays `E_IO`.
 */
const UNUSABLE_OUT = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'EEXIST']);

/**
 * `mkdir -p dir`. Node's recursive mkdir reports ENOENT for some failures that have another cause (a
 * read-only mount: EROFS, found by the hostile sweep); then the missing folders are made one by one, which
 * fails with the real reason.
 *
 * @throws the file system's error (`code` EROFS, EACCES…).
 */
async function makeFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const missing: string[] = [];
  for (let p = dir; !(await exists(p)); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const folder of missing) {
    await mkdir(folder).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

/** The error of an `--out` that cannot be examined or created (see `UNUSABLE_OUT`). */
function outFolderError(err: unknown, what: string): RecpullError {
  if (err instanceof RecpullError && err.code !== 'E_IO') return err; // checkOutFolder's own E_USAGE
  const cause = err instanceof RecpullError ? (err.cause ?? err) : err;
  const code = (cause as NodeJS.ErrnoException)?.code ?? '';
  if (UNUSABLE_OUT.has(code)) {
    return new RecpullError(
      'E_USAGE',
      `${what}: ${code}; --out must name a folder recpull can create and write (choose another with -o)`,
      { cause },
    );
  }
  return err instanceof RecpullError
    ? err
    : new RecpullError('E_IO', `${what}: ${(err as Error).message}`, { cause: err });
}

/** A path allocator that asks the index who owns a path (every file of a done record is its key's). */
function allocatorFor(out: string, index: ManifestIndex): PathAllocator {
  return new PathAllocator(out, (pathLower) => index.ownerOf(pathLower));
}
