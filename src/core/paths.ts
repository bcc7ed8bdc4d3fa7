/**
 * Claims output paths so that two recordings never write to one file: a path already owned by another
 * key (in this run or in the manifest) or present on disk without an owner gets a `-2`, `-3`… suffix.
 * Paths are compared case-insensitively, since the output folder may live on a case-insensitive disk.
 */
import { lstat as lstatCallback, type Stats, stat as statCallback } from 'node:fs';
import { lstat, mkdir, statfs } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { RecpullError } from './errors.js';
import { withSuffix } from './template.js';

/** Hands out relative output paths, one owner (recording key) each. */
export class PathAllocator {
  /** lower-cased relative path → key that owns it, for the paths claimed in this run (ahead of `known`) */
  private readonly owners = new Map<string, string>();
  /** The owner of a lower-cased path according to the manifest (its index), if any. */
  private readonly known: (pathLower: string) => string | undefined;
  /** Per key, the paths `claim` passed over because a file no one owns was there (see `takePassedOver`). */
  private readonly onDisk = new Map<string, string[]>();

  /**
   * `owned`: the manifest's done files — either pairs of relative path and key (held in memory), or a
   * lookup from a lower-cased relative path to the key owning it (the manifest index: nothing held).
   */
  constructor(
    private readonly out: string,
    owned: Iterable<[string, string]> | ((pathLower: string) => string | undefined) = [],
  ) {
    if (typeof owned === 'function') this.known = owned;
    else {
      const map = new Map<string, string>();
      for (const [path, key] of owned) map.set(path.toLowerCase(), key);
      this.known = (id) => map.get(id);
    }
  }

  /**
   * Returns a relative path for `key`, `wanted` itself when free or already owned by `key` (a re-download
   * with `--force` replaces its own file), else the first free suffixed variant. The claim is recorded
   * synchronously, before the disk is checked, so concurrent workers never get the same path.
   */
  async claim(wanted: string, key: string): Promise<string> {
    for (let n = 1; ; n++) {
      const candidate = n === 1 ? wanted : withSuffix(wanted, n);
      const id = candidate.toLowerCase();
      const owner = this.owners.get(id) ?? this.known(id);
      if (owner === key) return candidate;
      if (owner !== undefined) continue;
      this.owners.set(id, key);
      if (!(await exists(join(this.out, candidate)))) return candidate;
      this.owners.set(id, `\u0000disk:${candidate}`); // someone else's file: never overwrite it
      const passed = this.onDisk.get(key);
      if (passed) passed.push(candidate);
      else this.onDisk.set(key, [candidate]);
    }
  }

  /**
   * The paths (relative, as wanted) that `claim` passed over for `key` because a file with no owner in the
   * manifest was there, handed over once and forgotten (a run over a folder whose manifest was lost meets
   * one per key): the writer compares its download with them (`adopt`), so that such a folder does not
   * fill with `-2` copies of what it already holds.
   */
  takePassedOver(key: string): readonly string[] {
    const passed = this.onDisk.get(key);
    if (!passed) return [];
    this.onDisk.delete(key);
    return passed;
  }

  /**
   * `key` takes `existing`, a path it passed over whose file is byte for byte its download, instead of
   * `claimed` (given back). Nothing on disk changes here.
   */
  adopt(key: string, existing: string, claimed: string): void {
    this.owners.set(existing.toLowerCase(), key);
    this.release(claimed, key);
  }

  /** Gives a claimed path back (the item failed before writing anything). */
  release(path: string, key: string): void {
    const id = path.toLowerCase();
    if (this.owners.get(id) === key) this.owners.delete(id);
    this.onDisk.delete(key);
  }
}

/** Whether something (a link too, dangling or not) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    return (await lstatOrUndefined(path)) !== undefined;
  } catch {
    return false;
  }
}

/**
 * `lstat` (or `stat`) of `path`, undefined when nothing is there (`ENOENT`); other errors are thrown. Through
 * `node:fs`'s callback API: a missing path, the usual answer when a path is claimed, costs half the CPU of
 * `fs/promises`, whose rejection captures a stack trace (measured: 30 against 15 µs per missing path).
 */
export function lstatOrUndefined(path: string, how: 'stat' | 'lstat' = 'lstat'): Promise<Stats | undefined> {
  return new Promise((resolveStat, reject) => {
    (how === 'stat' ? statCallback : lstatCallback)(path, (err, st) => {
      if (!err) resolveStat(st);
      else if (err.code === 'ENOENT') resolveStat(undefined);
      else reject(err);
    });
  });
}

/** A segment `.` or `..`, an empty segment (`//`), or a leading or trailing `/`: what `resolve` rewrites. */
const NOT_PLAIN = /(?:^|\/)\.{0,2}(?:\/|$)/;
let lastOut = '';
let lastRoot = '';

/** Absolute path of a relative output path, refusing anything that would land outside `out`. Throws E_IO. */
export function insideOut(out: string, rel: string): string {
  if (out !== lastOut) {
    lastRoot = resolve(out);
    lastOut = out;
  }
  const root = lastRoot;
  // a plain relative path (what the manifest holds) is below `root` as it stands: no `resolve` per file
  // of a skip pass
  if (rel !== '' && !rel.includes('\0') && !NOT_PLAIN.test(rel))
    return root === sep ? `${sep}${rel}` : `${root}${sep}${rel}`;
  const abs = resolve(root, rel);
  const back = relative(root, abs);
  if (back === '' || back.startsWith(`..${sep}`) || back === '..' || resolve(back) === back) {
    throw new RecpullError('E_IO', `refusing to write outside the output folder: ${rel}`);
  }
  return abs;
}

/**
 * Checks `--out` before a run: it may not exist yet (it is created), else it must be a folder (a symlink to
 * a folder is the user's choice and fine), and its `.recpull` state folder, when present, must be a real
 * folder, not a symlink (the lock and manifest would be written wherever it points) nor a file.
 *
 * @throws RecpullError `E_USAGE` (exit 2, nothing attempted) naming the path: `out` is a file or other
 *   non-folder, or `.recpull` is a symlink or not a folder. `E_IO` when `out` cannot be examined.
 */
export async function checkOutFolder(out: string): Promise<void> {
  const root = resolve(out);
  if (await onProcFs(root)) {
    throw new RecpullError(
      'E_USAGE',
      `--out ${root} is in /proc, the kernel's process information, where no file can be written; name a folder on a disk`,
    );
  }
  const st = await statOrUndefined(root, 'stat');
  if (!st) return;
  if (!st.isDirectory()) {
    throw new RecpullError(
      'E_USAGE',
      `--out ${root} is not a folder (it is an existing file); name a folder`,
    );
  }
  const state = join(root, '.recpull');
  const ls = await statOrUndefined(state, 'lstat');
  if (!ls) return;
  if (ls.isSymbolicLink()) {
    throw new RecpullError(
      'E_USAGE',
      `${state} is a symlink; recpull keeps its lock and manifest there and needs a real folder (remove the link)`,
    );
  }
  if (!ls.isDirectory()) {
    throw new RecpullError('E_USAGE', `${state} is not a folder; recpull keeps its lock and manifest there`);
  }
}

/** Linux's procfs (`PROC_SUPER_MAGIC`, statfs(2)). */
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * Whether `path`, or its nearest existing ancestor, is on Linux's procfs: Node's recursive `mkdir` below
 * `/proc/self` never returns (Node 24: 100 % CPU, deaf to SIGTERM), so such an `--out` is refused first.
 */
async function onProcFs(path: string): Promise<boolean> {
  if (process.platform !== 'linux') return false;
  for (let p = path; ; p = dirname(p)) {
    try {
      return (await statfs(p)).type === PROC_SUPER_MAGIC;
    } catch {
      if (dirname(p) === p) return false; // nothing above it could be examined
    }
  }
}

async function statOrUndefined(path: string, how: 'stat' | 'lstat'): Promise<Stats | undefined> {
  try {
    return await lstatOrUndefined(path, how);
  } catch (err) {
    throw new RecpullError('E_IO', `cannot examine ${path}: ${(err as NodeJS.ErrnoException).code ?? ''}`, {
      cause: err,
    });
  }
}

/**
 * `insideOut(out, rel)`, also refusing a path that would pass through a symlink below `out`: every
 * existing component between `out` and the file is checked with `lstat` (a symlink to a folder elsewhere
 * would make a write land outside `out`). `out` itself may be a symlink. Components that do not exist yet
 * are fine (nothing can be followed there). Returns the absolute path.
 *
 * @throws RecpullError `E_IO` naming the component: outside `out`, a symlink, or not a folder where a
 *   folder is needed.
 */
export async function resolveInsideOut(out: string, rel: string): Promise<string> {
  const abs = insideOut(out, rel);
  const root = resolve(out);
  const parts = relative(root, abs).split(sep);
  let at = root;
  for (let i = 0; i < parts.length; i++) {
    at = join(at, parts[i] as string);
    if (i < parts.length - 1 && realFolders.has(at)) continue;
    const st = await statOrUndefined(at, 'lstat');
    if (!st) break;
    if (st.isSymbolicLink()) throw symlinkInTheWay(at);
    if (i < parts.length - 1 && !st.isDirectory()) {
      throw new RecpullError('E_IO', `cannot write ${abs}: ${at} is not a folder`);
    }
    if (i < parts.length - 1) rememberRealFolder(at);
  }
  return abs;
}

/**
 * Folders below an output folder that this process has seen to be real folders (not symlinks): checked
 * once, not once per file (each check is an `lstat` on the thread pool; 2000 files into a few folders made
 * a dozen of them per file). A folder swapped for a symlink while the run goes on is not noticed again;
 * whoever can do that can write into `--out` anyway. Bounded: forgotten past 10 000 entries, and at the
 * start of every run (`forgetRealFolders`).
 */
const realFolders = new Set<string>();

/** Forgets the folders seen so far (a run starts; or a folder vanished under a run). */
export function forgetRealFolders(): void {
  realFolders.clear();
}

function rememberRealFolder(abs: string): void {
  if (realFolders.size >= 10_000) realFolders.clear();
  realFolders.add(abs);
}

/** The message of a path the file system refuses as too long (`ENAMETOOLONG`): the template is at fault. */
export const PATH_TOO_LONG =
  'the output path is too long for the file system: shorten --template (fewer or shorter fields)';

/**
 * Creates the folders of the relative output path `rel` below `out` one at a time, never following a
 * symlink below `out` (see `resolveInsideOut`), and returns the file's absolute path. The file's own
 * path is checked too: when it exists it must not be a symlink. The sink calls `makeFolders` instead and
 * checks the file's path just before its rename.
 *
 * @throws RecpullError `E_IO` as `resolveInsideOut`, or when a folder cannot be created.
 */
export async function makeParentFolders(out: string, rel: string): Promise<string> {
  await makeFolders(out, rel);
  return resolveInsideOut(out, rel); // its folders are known real now: one `lstat`, of the file's path
}

/**
 * `makeParentFolders` without the check of the file's own path: the folders of `rel` are created or
 * checked (each once per run, see `realFolders`), never through a symlink, and the file's absolute path
 * is returned. For a caller that opens `<file>.part` without following links and checks the file's path
 * itself before renaming onto it (the sink): one `lstat` fewer per recording, a third of a run's.
 *
 * @throws RecpullError `E_IO` naming the folder: outside `out`, a symlink, not a folder, or not creatable
 *   (`PATH_TOO_LONG` for `ENAMETOOLONG`).
 */
export async function makeFolders(out: string, rel: string): Promise<string> {
  const abs = insideOut(out, rel);
  const root = resolve(out);
  const folders = relative(root, dirname(abs));
  let at = root;
  for (const part of folders === '' ? [] : folders.split(sep)) {
    at = join(at, part);
    if (realFolders.has(at)) continue;
    try {
      await mkdir(at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENAMETOOLONG') throw new RecpullError('E_IO', PATH_TOO_LONG, { cause: err });
      if (code !== 'EEXIST') {
        throw new RecpullError('E_IO', `cannot create ${at}: ${code ?? ''}`, {
          cause: err,
        });
      }
    }
    // mkdir neither follows nor replaces what is there: a symlink or a file in the way is seen here
    const st = await lstat(at);
    if (st.isSymbolicLink()) throw symlinkInTheWay(at);
    if (!st.isDirectory()) throw new RecpullError('E_IO', `cannot write ${abs}: ${at} is not a folder`);
    rememberRealFolder(at);
  }
  return abs;
}

function symlinkInTheWay(at: string): RecpullError {
  return new RecpullError(
    'E_IO',
    `refusing to write through the symlink ${at} inside the output folder (it may point outside it)`,
  );
}
