/**
 * Output path templates: `{vendor}/{datasource}/{voicefilename}.{ext}` → a relative path below `--out`.
 * Every substituted value is sanitised into a safe single path segment; the literal `/` of the template
 * separates folders. The result never escapes `--out`: no `..`, no absolute paths, no control characters,
 * Windows-reserved names and characters replaced, each segment at most 200 bytes (UTF-8).
 */
import { RecpullError } from './errors.js';
import type { MetaValue } from './source.js';

/** Longest path segment, in bytes of UTF-8. */
export const MAX_SEGMENT_BYTES = 200;

const FIELD = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
/**
 * Replaced by `_` in every segment: C0/C1 controls and DEL, the bidi controls (U+061C, U+200E/F,
 * U+202A–U+202E, U+2066–U+2069: `a\u202Egnp.exe` would show as `aexe.png`), the line/paragraph
 * separators U+2028/U+2029, and the characters Windows forbids in names.
 */
const UNSAFE_CHARS =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029<>:"/\\|?*]/g;

/** The field names a template uses, in order of appearance. */
export function templateFields(template: string): string[] {
  return [...template.matchAll(FIELD)].map((m) => m[1] as string);
}

/**
 * Checks a template before a run: not empty, not absolute, ends in a file name, no brace outside a
 * `{field}` (a typo such as `{date` would otherwise name files literally), and uses only `known` fields or
 * ones the input may add (`allowUnknown`). Throws `E_USAGE`.
 */
export function checkTemplate(template: string, known: readonly string[], allowUnknown: boolean): void {
  if (template.trim() === '') throw new RecpullError('E_USAGE', 'the output template is empty');
  if (template.startsWith('/') || /^[A-Za-z]:[\\/]/.test(template)) {
    throw new RecpullError('E_USAGE', `the output template must be relative to --out: ${template}`);
  }
  if (template.endsWith('/') || !rendersSomething(template))
    throw new RecpullError('E_USAGE', `the output template must end in a file name: ${template}`);
  const stray = template.replace(FIELD, '').match(/[{}]/);
  if (stray) {
    throw new RecpullError(
      'E_USAGE',
      `the output template has a "${stray[0]}" that is not part of a {field}: ${template} (field names are letters, digits and _)`,
    );
  }
  const unknown = templateFields(template).filter((f) => !known.includes(f));
  if (unknown.length > 0 && !allowUnknown) {
    throw new RecpullError(
      'E_USAGE',
      `the output template uses unknown field(s) ${unknown.map((f) => `{${f}}`).join(', ')}; available: ${known.map((f) => `{${f}}`).join(' ')}`,
    );
  }
}

/** Turns any value into one safe path segment (never empty, never `.`/`..`, ≤ 200 bytes). */
export function sanitizeSegment(value: string, maxBytes = MAX_SEGMENT_BYTES): string {
  let s = value.normalize('NFC').replace(UNSAFE_CHARS, '_');
  s = s.replace(/^\s+/, '').replace(/[. ]+$/, (m) => '_'.repeat(Math.min(m.length, 1))); // Windows drops trailing dots/spaces
  if (s === '' || /^\.+$/.test(s)) s = s.replace(/\./g, '_') || '_';
  if (s.startsWith('.')) s = `_${s.slice(1)}`; // no hidden files, never `.recpull`
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`;
  return truncateBytes(s, maxBytes);
}

/** Cuts `s` to at most `maxBytes` of UTF-8 without splitting a character, keeping a short extension. */
export function truncateBytes(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  const dot = s.lastIndexOf('.');
  const ext = dot > 0 && s.length - dot <= 10 ? s.slice(dot) : '';
  const room = maxBytes - Buffer.byteLength(ext);
  let out = '';
  let bytes = 0;
  for (const ch of s.slice(0, s.length - ext.length)) {
    const b = Buffer.byteLength(ch);
    if (bytes + b > room) break;
    out += ch;
    bytes += b;
  }
  return out + ext;
}

/**
 * Renders a template for one recording. Values are sanitised as whole segments (a `/` inside a value
 * never makes a folder). Fields are `fields`' own properties only. A field the recording lacks throws
 * `E_TEMPLATE` (not retryable).
 * Returns a relative POSIX path.
 */
export function renderTemplate(template: string, fields: Record<string, MetaValue>): string {
  const rendered = templateSegments(template).map((segment) => {
    const text = segment.replace(FIELD, (_m, name: string) => {
      const v = Object.hasOwn(fields, name) ? fields[name] : undefined; // `{constructor}` is not a field
      if (isBlank(v)) throw missingField(name);
      return String(v).replace(/[/\\]/g, '_');
    });
    return sanitizeSegment(text);
  });
  if (rendered.length === 0)
    throw new RecpullError('E_TEMPLATE', `the output template rendered to nothing: ${template}`);
  return rendered.join('/');
}

/** Whether a field's value cannot fill a template: missing, null or empty. */
export function isBlank(v: MetaValue | undefined): boolean {
  return v === undefined || v === null || v === '';
}

/** The error of a template field a recording lacks (`E_TEMPLATE`, not retryable). */
export function missingField(name: string): RecpullError {
  return new RecpullError(
    'E_TEMPLATE',
    `the output template uses {${name}}, which this recording does not have`,
  );
}

/** Whether `template` renders to at least one path segment whatever the values. */
export function rendersSomething(template: string): boolean {
  return templateSegments(template).length > 0;
}

/** The path segments of `template` that render (empty ones from `//` and `.` are dropped). */
function templateSegments(template: string): string[] {
  return template.split('/').filter((s) => s !== '' && s !== '.');
}

/** Inserts a suffix before the extension: `a/b.wav` + 2 → `a/b-2.wav`. */
export function withSuffix(relPath: string, n: number): string {
  const slash = relPath.lastIndexOf('/');
  const dot = relPath.lastIndexOf('.');
  if (dot > slash + 1) return `${relPath.slice(0, dot)}-${n}${relPath.slice(dot)}`;
  return `${relPath}-${n}`;
}
