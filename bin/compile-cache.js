// Where bin/recpull.js keeps Node's compile cache (V8's compiled code of recpull between runs). Node's own
// default is one folder in the system's temp folder, shared by every account: another local user could
// make it first and plant code cache that a root cron job's recpull would then run. So the cache lives in
// this account's cache folder ($XDG_CACHE_HOME, else ~/.cache; ~/Library/Caches on macOS, %LOCALAPPDATA%
// on Windows), in recpull/compile-cache, made owner-only, and is used only when that folder and
// recpull/ are real folders owned by this account that no one else may write. Otherwise there is no cache
// (it only saves about 50 ms a run). A module of its own, without static imports beyond Node's, loaded
// before the CLI.
import { lstatSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * The private compile-cache folder, made if missing (mode 700), or undefined when there is none to use:
 * `NODE_DISABLE_COMPILE_CACHE` is set, no cache folder can be found or made, or one of the two folders is a
 * symlink, belongs to another account, or is writable by group or others.
 *
 * @param {NodeJS.ProcessEnv} env
 * @returns {string | undefined}
 */
export function compileCacheDir(env = process.env) {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const base = cacheBase(env);
  if (!base) return undefined;
  const app = join(base, 'recpull');
  const dir = join(app, 'compile-cache');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return privateFolder(app) && privateFolder(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** @param {NodeJS.ProcessEnv} env */
function cacheBase(env) {
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) return env.XDG_CACHE_HOME;
  if (process.platform === 'win32') return env.LOCALAPPDATA || undefined;
  let home;
  try {
    home = homedir();
  } catch {
    return undefined;
  }
  if (!home) return undefined;
  return process.platform === 'darwin' ? join(home, 'Library', 'Caches') : join(home, '.cache');
}

/** @param {string} path */
function privateFolder(path) {
  const st = lstatSync(path);
  if (!st.isDirectory()) return false; // a symlink too: lstat does not follow it
  if (process.platform === 'win32' || typeof process.getuid !== 'function') return true;
  return st.uid === process.getuid() && (st.mode & 0o022) === 0;
}
