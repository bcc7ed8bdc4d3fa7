/**
 * The output folder's state for one run, and crash recovery: create `<out>/.recpull`, take the lock, replay
 * the manifest (a torn last line is cut off), then undo what an interrupted run left (the `.part` journal:
 * leftover `.part` files deleted, whole files renamed just before a crash adopted as done). A dry run only
 * reads the manifest and touches nothing.
 */
import { mkdir } from 'node:fs/promises';
import { RecpullError } from './errors.js';
import { type EventSink, now } from './events.js';
import { PartJournal } from './journal.js';
import { clearStaging } from './bundle.js';
import { acquireLock } from './lock.js';
import { describeLines, Manifest, type ManifestRecord, readManifest, stateDir } from './manifest.js';
import { checkOutFolder, PathAllocator } from './paths.js';

/** What a run works with. `manifest`, `journal` and `release` are absent in a dry run. */
export interface FolderState {
  records: Map<string, ManifestRecord>;
  manifest?: Manifest;
  journal?: PartJournal;
  paths: PathAllocator;
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

/** Options of {@link openFolder}. */
export interface OpenFolderOptions {
  out: string;
  dryRun: boolean;
  emit: EventSink;
  /** Called if the lock is lost while the run goes on (its staleness was detected by another process). */
  onLockLost: (err: RecpullError) => void;
}

/**
 * Opens the output folder for a run. Throws `E_USAGE` (`out` is a file, or its `.recpull` is not a real
 * folder), `E_IO` (cannot create the state folder), `E_LOCKED` (another run holds the lock), or what reading
 * the manifest throws; on a throw nothing stays locked.
 */
export async function openFolder(opts: OpenFolderOptions): Promise<FolderState> {
  const { out, emit } = opts;
  await checkOutFolder(out);
  if (opts.dryRun) {
    const { records } = await readManifest(out); // look, touch nothing
    return { records, paths: allocatorFor(out, records), release: async () => {} };
  }
  try {
    await mkdir(stateDir(out), { recursive: true });
  } catch (err) {
    throw new RecpullError('E_IO', `cannot create ${stateDir(out)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const releaseLock = await acquireLock(out, (err) =>
    opts.onLockLost(new RecpullError('E_LOCKED', `lost the lock of ${out}: ${err.message}`)),
  );
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await releaseLock();
  };
  try {
    const manifest = await Manifest.open(out);
    const journal = new PartJournal(out);
    const recovery = await journal.recover((key) => manifest.get(key)?.status === 'done');
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
    const records = manifest.records;
    return { records, manifest, journal, paths: allocatorFor(out, records), release };
  } catch (err) {
    await release();
    throw err;
  }
}

/** A path allocator that knows every file of the done records as taken by its key. */
function allocatorFor(out: string, records: Map<string, ManifestRecord>): PathAllocator {
  const owned: [string, string][] = [];
  for (const rec of records.values()) {
    if (rec.status === 'done') for (const f of rec.files) owned.push([f.path, rec.key]);
  }
  return new PathAllocator(out, owned);
}
