/**
 * Finding and parsing the config file: cosmiconfig search from the working directory up to the home
 * folder, then `$XDG_CONFIG_HOME/recpull/config.yaml`; YAML parsed with the `yaml` package.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cosmiconfig, type Loader } from 'cosmiconfig';
import { type Document, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import { RecpullError } from '../core/errors.js';
import { vendorNames } from '../vendors/index.js';

/** A parsed config file, not yet validated beyond its top level. */
export interface LoadedConfig {
  /** Absolute path of the file the config came from. */
  filepath: string;
  /** The parsed content (for `package.json`, its `recpull` property). */
  raw: unknown;
}

/** Where the search looks in each folder, in order. */
export const SEARCH_PLACES = [
  'package.json',
  '.recpullrc',
  '.recpullrc.yaml',
  '.recpullrc.yml',
  '.recpullrc.json',
  'recpull.config.yaml',
  'recpull.config.yml',
  'recpull.config.json',
] as const;

/** Largest config file recpull reads, in bytes (1 MiB): a bigger one is refused before it is read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Checks a config file with `stat` (following symlinks) before anything reads it: reading `/dev/zero`
 * never ends, a FIFO blocks until a writer comes, and parsing a huge file holds the event loop (and
 * Ctrl-C) for as long as it takes. Resolves quietly when the file does not exist (the caller reports that).
 *
 * @throws RecpullError `E_CONFIG` naming the file when it is not a regular file (a folder, FIFO, device,
 *   socket) or is larger than `MAX_CONFIG_BYTES`.
 */
export async function checkConfigFile(filepath: string): Promise<void> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(filepath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw wrap(err, filepath);
  }
  if (!st.isFile()) {
    const what = st.isDirectory()
      ? 'a folder'
      : st.isFIFO()
        ? 'a FIFO'
        : st.isCharacterDevice() || st.isBlockDevice()
          ? 'a device'
          : st.isSocket()
            ? 'a socket'
            : 'a special file';
    throw new RecpullError('E_CONFIG', `config file ${filepath} is not a regular file (it is ${what})`);
  }
  if (st.size > MAX_CONFIG_BYTES) {
    throw new RecpullError(
      'E_CONFIG',
      `config file ${filepath} is too big (${st.size} bytes; the limit is ${MAX_CONFIG_BYTES} bytes, 1 MiB)`,
    );
  }
}

/**
 * Checks, in the order the search visits them, every candidate file of the folders searched from `cwd`,
 * up to the first one cosmiconfig would load (`package.json` is only a candidate; the search goes on past
 * it). Throws what `checkConfigFile` throws.
 */
async function checkSearchCandidates(cwd: string): Promise<void> {
  for (const dir of foldersSearched(cwd)) {
    for (const place of SEARCH_PLACES) {
      const file = path.join(dir, place);
      let found: boolean;
      try {
        await stat(file);
        found = true;
      } catch {
        found = false;
      }
      if (!found) continue;
      await checkConfigFile(file);
      if (place !== 'package.json') return;
    }
  }
}

/**
 * The first key that repeats an earlier key of the same mapping, or undefined. One `Set` per mapping:
 * linear in the number of keys (yaml's own `uniqueKeys` check compares each key with every earlier one,
 * which made 40,000 profiles take 20 s).
 */
function duplicateKey(doc: Document): { key: string; offset: number } | undefined {
  let found: { key: string; offset: number } | undefined;
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const k = pair.key;
        const id = isScalar(k) ? k.value : k;
        if (seen.has(id)) {
          found = { key: String(id), offset: (isScalar(k) ? k.range?.[0] : undefined) ?? 0 };
          return visit.BREAK;
        }
        seen.add(id);
      }
      return undefined;
    },
  });
  return found;
}

/** A parser message without the source text it may quote (a quoted scalar could be a secret). */
function sanitize(message: string): string {
  return message
    .replace(/,\s*(\.\.\.)?".*$/s, '')
    .replace(/\s*in JSON at position.*$/s, '')
    .replace(/\s*\(line \d+ column \d+\)/, '')
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '"…"');
}

/** The first `yaml` parse error as `file:line:col: <kind> syntax error at line L, column C: message`. */
function yamlErrors(
  filepath: string,
  content: string,
  kind: string,
  schema?: 'json',
): RecpullError | Document {
  const lineCounter = new LineCounter();
  const doc = parseDocument(content, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: false, // checked below in linear time (see duplicateKey)
    ...(schema && { schema }),
  });
  const first = doc.errors[0];
  if (!first) {
    const dup = duplicateKey(doc);
    if (!dup) return doc;
    const { line, col } = lineCounter.linePos(dup.offset);
    return new RecpullError(
      'E_CONFIG',
      `${filepath}:${line}:${col}: ${kind} syntax error at line ${line}, column ${col}: map keys must be unique (a key is repeated)`,
    );
  }
  const { line, col } = lineCounter.linePos(first.pos[0]);
  const what =
    schema === 'json' && first.code === 'TAG_RESOLVE_FAILED'
      ? 'unquoted value (JSON strings need double quotes)'
      : sanitize(first.message);
  const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more)` : '';
  return new RecpullError(
    'E_CONFIG',
    `${filepath}:${line}:${col}: ${kind} syntax error at line ${line}, column ${col}: ${what}${more}`,
  );
}

/** YAML loader (also used for extension-less files and unknown extensions): errors carry line:column. */
const loadYaml: Loader = (filepath, content) => {
  const doc = yamlErrors(filepath, content, 'YAML');
  if (doc instanceof RecpullError) throw doc;
  try {
    return checkNoImport(filepath, doc.toJS({ maxAliasCount: 100 }));
  } catch (err) {
    if (err instanceof RecpullError) throw err;
    throw new RecpullError('E_CONFIG', `${filepath}: ${sanitize((err as Error).message)}`, { cause: err });
  }
};

/**
 * JSON loader. V8's messages quote the source (maybe a secret) and often lack a position, so a failure is
 * located with the `yaml` parser (JSON schema) and reported without the quoted text.
 */
const loadJson: Loader = (filepath, content) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (err) {
    const located = yamlErrors(filepath, content, 'JSON', 'json');
    if (located instanceof RecpullError) throw located;
    const msg = (err as Error).message;
    const m = /\(line (\d+) column (\d+)\)/.exec(msg);
    const at = m ? ` at line ${m[1]}, column ${m[2]}` : '';
    const prefix = m ? `${filepath}:${m[1]}:${m[2]}` : filepath;
    throw new RecpullError('E_CONFIG', `${prefix}: JSON syntax error${at}: ${sanitize(msg)}`);
  }
  if (path.basename(filepath) === 'package.json') {
    const own = (parsed as Record<string, unknown> | null)?.recpull;
    if (own !== undefined) checkNoImport(filepath, own);
    return parsed;
  }
  return checkNoImport(filepath, parsed);
};

/** cosmiconfig merges `$import`ed files before we see the result; recpull does not support that. */
function checkNoImport(filepath: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, '$import')) {
    throw new RecpullError(
      'E_CONFIG',
      `${filepath}: $import: unknown top-level key ($import is not supported)`,
    );
  }
  return value;
}

/** JS/TS configs would run code from whatever folder recpull was started in: refused. */
const refuseCode: Loader = (filepath) => {
  throw new RecpullError(
    'E_CONFIG',
    `${filepath}: JavaScript/TypeScript config files are not supported; use YAML or JSON`,
  );
};

/**
 * A config file that was found (not named with `--config`) must belong to the user (or root) and not be
 * writable by group or others: outside the home folder the search walks up to `/`, and a file planted in a
 * shared folder could otherwise point recpull at another server with the user's `${ENV}` secrets (the rule
 * ssh applies to its config). Throws `E_CONFIG` naming the file and the way out (`--config`).
 */
async function refuseUntrusted(filepath: string): Promise<void> {
  const st = await stat(filepath);
  const uid = process.getuid?.();
  const foreign = uid !== undefined && st.uid !== uid && st.uid !== 0;
  const writable = (st.mode & 0o022) !== 0;
  if (!foreign && !writable) return;
  const why = foreign ? `is owned by another user (uid ${st.uid})` : 'is writable by group or others';
  throw new RecpullError(
    'E_CONFIG',
    `refusing the config file ${filepath} found by searching: it ${why}. Fix its owner or mode (chmod go-w), or name it with --config to use it anyway`,
  );
}

/**
 * The cosmiconfig explorer. cosmiconfig also reads settings of its own from the working folder when an
 * explorer is created (a `cosmiconfig` key in package.json, `.config/config.{json,yaml,js,ts,...}`), and
 * would import a `.config/config.js` found there: code from whatever folder recpull runs in, and settings
 * that change where recpull looks. It has no option to turn that off, so the explorer is created (a
 * synchronous step) while the process sits in a fresh empty folder.
 */
function explorer() {
  const here = process.cwd();
  const neutral = mkdtempSync(path.join(os.tmpdir(), 'recpull-cfg-'));
  process.chdir(neutral);
  try {
    return createExplorer();
  } finally {
    process.chdir(here);
    rmSync(neutral, { recursive: true, force: true });
  }
}

function createExplorer() {
  return cosmiconfig('recpull', {
    searchPlaces: [...SEARCH_PLACES],
    searchStrategy: 'global',
    stopDir: os.homedir(),
    cache: false,
    loaders: {
      '.yaml': loadYaml,
      '.yml': loadYaml,
      '.json': loadJson,
      noExt: loadYaml,
      default: loadYaml,
      '.js': refuseCode,
      '.mjs': refuseCode,
      '.cjs': refuseCode,
      '.ts': refuseCode,
      '.mts': refuseCode,
      '.cts': refuseCode,
    },
  });
}

/** `$XDG_CONFIG_HOME/recpull/config.yaml`, default `~/.config/recpull/config.yaml`. */
export function xdgConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.config');
  return path.join(base, 'recpull', 'config.yaml');
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

function wrap(err: unknown, file: string): RecpullError {
  if (err instanceof RecpullError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT')
    return new RecpullError('E_CONFIG', `config file ${file} not found`, { cause: err });
  const reason = e?.code ?? sanitize(err instanceof Error ? err.message : String(err));
  return new RecpullError('E_CONFIG', `cannot read config file ${file} (${reason})`, { cause: err });
}

function foldersSearched(cwd: string): string[] {
  const stop = path.resolve(os.homedir());
  const dirs = [cwd];
  let dir = cwd;
  while (dir !== stop) {
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dirs.push(parent);
    dir = parent;
  }
  return dirs;
}

/** Checks the top level: a mapping of known vendors (plus `$schema`), each a mapping of profile mappings. */
function checkTopLevel(filepath: string, raw: unknown, vendors: readonly string[]): void {
  if (raw === null || raw === undefined)
    throw new RecpullError('E_CONFIG', `config file ${filepath} is empty`);
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RecpullError(
      'E_CONFIG',
      `${filepath}: expected a mapping of vendor sections (${vendors.join(', ')})`,
    );
  }
  for (const [key, value] of Object.entries(raw)) {
    if (key === '$schema') {
      if (typeof value !== 'string')
        throw new RecpullError('E_CONFIG', `${filepath}: $schema: expected a string`);
      continue;
    }
    if (!vendors.includes(key)) {
      throw new RecpullError(
        'E_CONFIG',
        `${filepath}: ${key}: unknown top-level key (expected ${vendors.join(', ')} or $schema)`,
      );
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new RecpullError(
        'E_CONFIG',
        `${filepath}: ${key}: expected a mapping of profiles (e.g. ${key}.default)`,
      );
    }
    for (const [profile, section] of Object.entries(value)) {
      if (section === null || typeof section !== 'object' || Array.isArray(section)) {
        throw new RecpullError('E_CONFIG', `${filepath}: ${key}.${profile}: expected a mapping of settings`);
      }
    }
  }
}

/**
 * Finds and parses the config file.
 *
 * - `configPath` (from `--config FILE`, relative to `cwd`): exactly that file, loaded like a found one.
 * - otherwise: in `cwd` (default `process.cwd()`) and each parent folder up to the home folder, the first of
 *   `SEARCH_PLACES` that exists (`package.json` only when it has a `recpull` key); then
 *   `$XDG_CONFIG_HOME/recpull/config.yaml` (default `~/.config/recpull/config.yaml`).
 *
 * YAML (`.yaml`, `.yml`, `.recpullrc`, any other extension) is parsed with the `yaml` package, `.json` as
 * JSON. The top level is checked: only the registered vendors' sections (`vendors`, default every vendor of
 * src/vendors/index.ts) and `$schema`, vendors holding profile mappings. Profiles themselves are validated by `resolveProfile()`.
 *
 * @throws RecpullError `E_CONFIG` (message names the file): explicit file missing or unreadable; syntax
 *   error (with line and column); unknown top-level key; empty file; no config file found anywhere (the
 *   message lists where it looked).
 */
export async function loadConfig(
  opts: { configPath?: string; cwd?: string; vendors?: readonly string[] } = {},
): Promise<LoadedConfig> {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  let ex: ReturnType<typeof createExplorer>;
  try {
    ex = explorer();
  } catch (err) {
    const file = (err as { filepath?: string })?.filepath ?? process.cwd();
    throw new RecpullError(
      'E_CONFIG',
      `${file}: bad cosmiconfig settings: ${sanitize((err as Error).message)}`,
      {
        cause: err,
      },
    );
  }
  let result: Awaited<ReturnType<ReturnType<typeof createExplorer>['load']>>;
  let filepath: string;
  if (opts.configPath !== undefined) {
    filepath = path.resolve(cwd, opts.configPath);
    try {
      await checkConfigFile(filepath);
      result = await ex.load(filepath);
    } catch (err) {
      throw wrap(err, filepath);
    }
    if (result === null) {
      throw new RecpullError('E_CONFIG', `config file ${filepath} holds no recpull settings`);
    }
  } else {
    try {
      await checkSearchCandidates(cwd);
      result = await ex.search(cwd);
    } catch (err) {
      throw wrap(err, (err as { filepath?: string })?.filepath ?? cwd);
    }
    const fallback = xdgConfigFile();
    if (result === null && (await exists(fallback))) {
      try {
        await checkConfigFile(fallback);
        result = await ex.load(fallback);
      } catch (err) {
        throw wrap(err, fallback);
      }
    }
    if (result === null) {
      const dirs = foldersSearched(cwd);
      throw new RecpullError(
        'E_CONFIG',
        `no config file found: looked for ${SEARCH_PLACES.join(', ')} (package.json: its "recpull" key) in ${dirs.join(', ')}; ` +
          `then ${fallback}. Create one from config.example.yaml or pass --config FILE`,
      );
    }
    filepath = result.filepath;
    await refuseUntrusted(filepath);
  }
  const raw: unknown = result.isEmpty ? null : result.config;
  checkTopLevel(result.filepath ?? filepath, raw, opts.vendors ?? vendorNames());
  return { filepath: result.filepath ?? filepath, raw };
}
