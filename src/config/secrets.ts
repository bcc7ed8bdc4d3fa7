/**
 * Secrets in the config: `${ENV}` interpolation, `<key>File` reading, and the "readable by others"
 * warnings. Nothing here prints; warnings are returned as strings.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RecpullError } from '../core/errors.js';

/** `${NAME}` or `${NAME:-default}`; `$${` is a literal `${`. */
const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True when `value` holds at least one `${...}` reference. */
export function hasEnvReference(value: string): boolean {
  for (const m of value.matchAll(REFERENCE)) if (m[0] !== '$${') return true;
  return false;
}

/**
 * Replaces `${NAME}` / `${NAME:-default}` in one string from `env`. `default` is used when `NAME` is
 * unset or empty (shell semantics); `$${` stands for a literal `${`.
 *
 * @param keyPath dotted key path used in error messages (e.g. `timplus.default.password`).
 * @throws RecpullError `E_CONFIG` naming `file`, the key path and the variable when a variable without
 *   default is unset, or a reference is malformed.
 */
export function interpolate(value: string, keyPath: string, file: string, env: NodeJS.ProcessEnv): string {
  return value.replace(REFERENCE, (whole: string, inner: string | undefined) => {
    if (whole === '$${') return '${';
    const body = inner ?? '';
    const sep = body.indexOf(':-');
    const name = sep === -1 ? body : body.slice(0, sep);
    if (!VAR_NAME.test(name)) {
      throw new RecpullError(
        'E_CONFIG',
        `${file}: ${keyPath}: malformed reference \${${name}} (expected \${NAME} or \${NAME:-default})`,
      );
    }
    const v = env[name];
    if (sep !== -1) return v === undefined || v === '' ? body.slice(sep + 2) : v;
    if (v === undefined) {
      throw new RecpullError(
        'E_CONFIG',
        `${file}: ${keyPath}: environment variable ${name} is not set (referenced as \${${name}}; use \${${name}:-default} for a default)`,
      );
    }
    return v;
  });
}

/** A deep copy of `value` with `interpolate()` applied to every string (keys untouched). */
export function interpolateDeep(
  value: unknown,
  keyPath: string,
  file: string,
  env: NodeJS.ProcessEnv,
): unknown {
  if (typeof value === 'string') return interpolate(value, keyPath, file, env);
  if (Array.isArray(value)) return value.map((v, i) => interpolateDeep(v, `${keyPath}[${i}]`, file, env));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateDeep(v, `${keyPath}.${k}`, file, env);
    return out;
  }
  return value;
}

/** Expands a leading `~` / `~/` to the home folder. */
export function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/') || p.startsWith(`~${path.sep}`)) return path.join(os.homedir(), p.slice(2));
  return p;
}

/** Resolves a path from the config: `~` expanded, relative paths against the config file's folder. */
export function resolveConfigPath(p: string, configFile: string): string {
  return path.resolve(path.dirname(configFile), expandHome(p));
}

/** True when `file` can be read by its group or by others (mode & 0o077). Always false on Windows. */
export async function readableByOthers(file: string): Promise<boolean> {
  if (process.platform === 'win32') return false;
  try {
    return ((await stat(file)).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

/**
 * Reads a `<key>File` secret: the whole file, one trailing newline (`\n` or `\r\n`) trimmed.
 *
 * @returns the secret and, when the file is group/other readable, a warning string.
 * @throws RecpullError `E_CONFIG` naming the config file, the key path and the secret file when it cannot
 *   be read or is empty.
 */
export async function readSecretFile(
  secretPath: string,
  keyPath: string,
  configFile: string,
): Promise<{ value: string; warning?: string }> {
  const file = resolveConfigPath(secretPath, configFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new RecpullError(
      'E_CONFIG',
      `${configFile}: ${keyPath}: cannot read secret file ${file} (${code})`,
      {
        cause: err,
      },
    );
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') {
    throw new RecpullError('E_CONFIG', `${configFile}: ${keyPath}: secret file ${file} is empty`);
  }
  const out: { value: string; warning?: string } = { value };
  if (await readableByOthers(file)) {
    out.warning = `secret file ${file} (${keyPath}) is readable by others; chmod 600 it`;
  }
  return out;
}

/**
 * Checks `tls.caFile` (an absolute path, `keyPath` its key in the config) before anything connects: it must
 * be readable and hold a PEM certificate (`-----BEGIN CERTIFICATE-----`, parsed by node:crypto's
 * X509Certificate). A missing file crashed the run as an internal error, and one without a certificate was
 * ignored, so the TLS failure it caused told the user to set the setting they had set.
 *
 * @throws RecpullError `E_CONFIG` naming the config file, the key and the path: unreadable (with the
 *   system's code, e.g. ENOENT), or no certificate in it.
 */
export async function checkCaFile(caFile: string, keyPath: string, configFile: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(caFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new RecpullError('E_CONFIG', `${configFile}: ${keyPath}: cannot read ${caFile} (${code})`, {
      cause: err,
    });
  }
  try {
    new X509Certificate(text);
  } catch {
    throw new RecpullError(
      'E_CONFIG',
      `${configFile}: ${keyPath}: ${caFile} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block); name the CA's certificate file`,
    );
  }
}

/** The "literal secret in a readable config file" warning, or undefined when there is nothing to say. */
export async function literalSecretWarning(
  configFile: string,
  secretKeys: string[],
): Promise<string | undefined> {
  if (secretKeys.length === 0 || !(await readableByOthers(configFile))) return undefined;
  const what = secretKeys.join(' and ');
  const fileKeys = secretKeys.map((k) => `${k}File`).join(' / ');
  return `config file ${configFile} holds a literal ${what} and is readable by others; chmod 600 it or use \${ENV} / ${fileKeys}`;
}
