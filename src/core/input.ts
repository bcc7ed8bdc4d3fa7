/**
 * Input lists (`--input FILE|-`): CSV or TSV with a header row, or NDJSON, told apart by their content.
 * Rows are yielded as they arrive, so a pipe's first rows are downloading before the pipe closes. A row
 * that cannot be read is yielded as an error with its line number; the rows after it still come.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { RecpullError } from './errors.js';
import { lazyRequire } from './lazy-require.js';

/** One row: 1-based `line` and its fields (CSV/TSV header names lower-cased and trimmed). */
export type InputRow =
  { line: number; fields: Record<string, unknown> } | { line: number; error: RecpullError };

/**
 * Most lines per array of `readLines`, so most rows per array of `readInputBatches`. Small on purpose:
 * rows held while an array is handled outlive young-generation collections (a whole 64 KiB chunk, about a
 * thousand rows, cost 18 MB more peak RSS).
 */
const BATCH_ROWS = 128;

/** Longest input line, in bytes (1 MiB): a longer one is an unreadable row, skipped without holding it. */
export const MAX_LINE_BYTES = 1024 * 1024;

/**
 * Opens `--input`: `-` is standard input. A FIFO or device is read like a file (`<(...)`, `/dev/stdin`).
 * Throws `E_INPUT` (exit 2) for a path that is a folder or cannot be opened, naming the path.
 */
export async function openInput(spec: string, stdin: Readable = process.stdin): Promise<Readable> {
  if (spec === '-') return stdin;
  const isFolder = await stat(spec).then(
    (st) => st.isDirectory(),
    () => false, // createReadStream reports the reason
  );
  if (isFolder) {
    throw new RecpullError('E_INPUT', `the input list ${spec} is a folder; name a CSV, TSV or NDJSON file`);
  }
  const stream = createReadStream(spec);
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err) =>
      reject(
        new RecpullError(
          'E_INPUT',
          `cannot read the input list ${spec}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
        ),
      ),
    );
  });
  return stream;
}

/** Reads rows from a CSV, TSV or NDJSON stream (format detected from the first bytes), one at a time. */
export async function* readInputRows(stream: Readable): AsyncGenerator<InputRow> {
  for await (const batch of readInputBatches(stream)) for (const row of batch) yield row;
}

/**
 * The rows of `readInputRows`, in the same order, in arrays of at most `BATCH_ROWS` (128), never empty,
 * none waiting for input beyond the chunk that completed its rows. A source that yields its refs in
 * arrays (`Source.refs`) costs the run one `await` per array instead of one per row: a re-run over
 * 100 000 done rows spent a fifth of its time passing single rows through async generators.
 */
export async function* readInputBatches(stream: Readable): AsyncGenerator<InputRow[]> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head: Buffer[] = [];
  let text = '';
  // Peek until the first non-blank line is complete (or the stream ends) to choose the format.
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    const buf = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(buf);
    text += buf.toString('utf8');
    const trimmed = text.replace(/^\uFEFF/, '').trimStart();
    if (trimmed.includes('\n') || trimmed.length > 4096) break;
  }
  const rest = Readable.from(
    (async function* () {
      for (const b of head) yield b;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    })(),
  );
  const wide = wideEncoding(Buffer.concat(head).subarray(0, 4)); // the mark may come split over chunks
  if (wide) {
    // Excel's "Unicode text" and PowerShell's default: every line would fail as holding NUL bytes
    yield [
      {
        line: 1,
        error: new RecpullError(
          'E_INPUT',
          `line 1: the input list is ${wide} text (it starts with a ${wide} byte-order mark); save it as UTF-8 (CSV UTF-8) and run again`,
        ),
      },
    ];
    return;
  }
  const first = text.replace(/^\uFEFF/, '').trimStart();
  if (first === '') return;
  if (first.startsWith('{')) yield* ndjsonBatches(rest);
  else yield* delimitedBatches(rest, (first.split('\n')[0] ?? '').includes('\t') ? '\t' : ',');
}

/** 'UTF-16' or 'UTF-32' when `lead` (the first 4 bytes) starts with that encoding's byte-order mark. */
function wideEncoding(lead: Buffer): 'UTF-16' | 'UTF-32' | undefined {
  if (lead[0] === 0xff && lead[1] === 0xfe) return lead[2] === 0 && lead[3] === 0 ? 'UTF-32' : 'UTF-16';
  if (lead[0] === 0xfe && lead[1] === 0xff) return 'UTF-16';
  if (lead[0] === 0 && lead[1] === 0 && lead[2] === 0xfe && lead[3] === 0xff) return 'UTF-32';
  return undefined;
}

/** One line of input: its text, or why it cannot be read. `line` is 1-based. */
type Line = { line: number; text: string } | { line: number; error: string };

/**
 * Splits a byte stream into lines at `\n`, `\r\n` or a lone `\r` (never at U+2028/U+2029, which may be
 * part of a value), yielding the lines each chunk completes in arrays of at most `BATCH_ROWS`. A line is
 * decoded as strict UTF-8; one that is longer than `MAX_LINE_BYTES`, is not UTF-8 or holds a NUL byte is
 * reported as an error (its bytes are dropped as they come, so memory stays bounded), and the lines after
 * it still come.
 *
 * The whole lines inside a chunk (after the line it continues, if any) are decoded with one call when
 * that run of bytes holds no NUL and no CR and decodes cleanly (a 100 000-row list: one decode per 64 KiB
 * instead of one per line); otherwise line by line as above. One try per chunk.
 */
async function* readLines(stream: Readable): AsyncGenerator<Line[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let line = 0;
  let crPending = false; // the previous chunk ended in `\r`: a `\n` starting this one belongs to it
  let lines: Line[] = [];
  function finish(): void {
    const bytes = Buffer.concat(parts, size);
    parts = [];
    size = 0;
    if (tooLong) {
      tooLong = false;
      lines.push({ line: ++line, error: `longer than ${MAX_LINE_BYTES} bytes (1 MiB); not read` });
      return;
    }
    if (bytes.includes(0)) {
      lines.push({ line: ++line, error: 'holds NUL bytes (binary data?); not read' });
      return;
    }
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      lines.push({ line: ++line, error: 'is not valid UTF-8 text (binary data?); not read' });
      return;
    }
    for (const piece of text.split('\r')) lines.push({ line: ++line, text: piece }); // a lone CR ends a line too
  }
  /** Decodes `run` (whole lines, `\n`-separated, without the last `\n`) at once; false to go line by line. */
  function wholeLines(run: Buffer): boolean {
    if (run.length > MAX_LINE_BYTES || run.includes(0) || run.includes(0x0d)) return false;
    let text: string;
    try {
      text = decoder.decode(run);
    } catch {
      return false;
    }
    for (const piece of text.split('\n')) lines.push({ line: ++line, text: piece });
    return true;
  }
  for await (const chunk of stream) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    if (crPending && buf[0] === 0x0a) buf = buf.subarray(1);
    crPending = false;
    let start = 0;
    let tried = false; // the whole-lines decode, once per chunk (again per line, a bad last line costs n²)
    for (;;) {
      if (!tried && size === 0 && !tooLong) {
        tried = true;
        const last = buf.lastIndexOf(0x0a);
        if (last > start && wholeLines(buf.subarray(start, last))) start = last + 1;
      }
      const nl = buf.indexOf(0x0a, start);
      const end = nl === -1 ? buf.length : nl;
      if (!tooLong) {
        if (size + (end - start) > MAX_LINE_BYTES + 1) {
          tooLong = true;
          parts = [];
          size = 0;
        } else if (end > start) {
          parts.push(buf.subarray(start, end));
          size += end - start;
        }
      }
      if (nl === -1) break;
      if (!tooLong && parts.length > 0) trimFinalCr();
      finish();
      start = nl + 1;
    }
    if (!tooLong && buf.length > 0 && buf[buf.length - 1] === 0x0d) crPending = true;
    if (lines.length > 0) {
      const done = lines;
      lines = [];
      yield* inArrays(done);
    }
  }
  if (size > 0 || tooLong) {
    trimFinalCr();
    finish();
    yield* inArrays(lines);
  }
  function trimFinalCr() {
    const last = parts[parts.length - 1];
    if (last && last[last.length - 1] === 0x0d) {
      parts[parts.length - 1] = last.subarray(0, last.length - 1);
      size--;
    }
  }
}

/** `items` in arrays of at most `BATCH_ROWS`, in order (`items` itself when it is short enough). */
function* inArrays<T>(items: T[]): Generator<T[]> {
  if (items.length <= BATCH_ROWS) yield items;
  else for (let i = 0; i < items.length; i += BATCH_ROWS) yield items.slice(i, i + BATCH_ROWS);
}

/** Removes ASCII spaces and tabs at both ends; every other character (NBSP, U+2028...) is kept. */
export function trimAscii(s: string): string {
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(s.length - 1);
  if (first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09) return s; // nothing to trim
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

async function* ndjsonBatches(stream: Readable): AsyncGenerator<InputRow[]> {
  for await (const batch of readLines(stream)) {
    const rows: InputRow[] = [];
    for (const read of batch) {
      const line = read.line;
      if ('error' in read) {
        rows.push({ line, error: new RecpullError('E_INPUT', `line ${line}: ${read.error}`) });
        continue;
      }
      const raw = read.text;
      const text = (line === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
      if (text === '') continue;
      try {
        const value = JSON.parse(text) as unknown;
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          rows.push({ line, error: new RecpullError('E_INPUT', `line ${line}: expected a JSON object`) });
        } else rows.push({ line, fields: value as Record<string, unknown> });
      } catch (err) {
        rows.push({
          line,
          error: new RecpullError('E_INPUT', `line ${line}: not valid JSON (${(err as Error).message})`),
        });
      }
    }
    if (rows.length > 0) yield rows;
  }
}

/**
 * CSV/TSV rows as soon as their line arrives (one array per array of lines): lines are joined while a
 * quoted field is open (RFC 4180 allows newlines inside quotes), then each record is parsed by csv-parse's
 * sync parser. (csv-parse's stream holds back the last record until more input comes, which would stall
 * a pipe by one row.)
 */
async function* delimitedBatches(stream: Readable, delimiter: string): AsyncGenerator<InputRow[]> {
  let header: string[] | undefined;
  let pending = '';
  let startLine = 0;
  for await (const batch of readLines(stream)) {
    const rows: InputRow[] = [];
    for (const read of batch) {
      const line = read.line;
      if ('error' in read) {
        const at = pending === '' ? line : startLine;
        pending = '';
        rows.push({ line: at, error: new RecpullError('E_INPUT', `line ${at}: ${read.error}`) });
        if (!header) {
          rows.push({
            line: at,
            error: new RecpullError(
              'E_INPUT',
              `line ${at}: the header row is unreadable; no row can be read`,
            ),
          });
          yield rows;
          return;
        }
        continue;
      }
      const raw = read.text;
      const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (pending === '') {
        if (text.trim() === '') continue;
        startLine = line;
        pending = text;
      } else pending += `\n${text}`;
      if (pending.includes('"') && (pending.match(/"/g)?.length ?? 0) % 2 === 1) continue; // a quoted field goes on
      const record = pending;
      pending = '';
      let values: string[];
      try {
        values = parseRecord(record, delimiter);
      } catch (err) {
        rows.push({
          line: startLine,
          error: new RecpullError('E_INPUT', `line ${startLine}: ${(err as Error).message}`),
        });
        continue;
      }
      if (!header) {
        header = values.map((h) => trimAscii(h).toLowerCase());
        const twice = header.find((h, k) => h !== '' && header?.indexOf(h) !== k);
        if (twice !== undefined) {
          // which of the two columns holds the id is a guess either way: no row is read
          rows.push({
            line: startLine,
            error: new RecpullError(
              'E_INPUT',
              `line ${startLine}: the header names the column "${twice}" twice (names are compared without case); rename or remove one, no row can be read`,
            ),
          });
          yield rows;
          return;
        }
        continue;
      }
      if (values.length !== header.length) {
        rows.push({
          line: startLine,
          error: new RecpullError(
            'E_INPUT',
            `line ${startLine}: expected ${header.length} fields (${header.join(delimiter === '\t' ? ' ' : ', ')}), found ${values.length}`,
          ),
        });
        continue;
      }
      rows.push({ line: startLine, fields: rowFields(header, values) });
    }
    if (rows.length > 0) yield rows;
  }
  if (pending !== '')
    yield [
      {
        line: startLine,
        error: new RecpullError('E_INPUT', `line ${startLine}: a quoted field is never closed`),
      },
    ];
}

/** A row's fields by header name (the header names each column once: `delimitedBatches` refuses a repeat). */
function rowFields(header: string[], values: string[]): Record<string, unknown> {
  // `fields.__proto__ = v` would set the prototype, not a field: such a header takes the slow path
  if (header.includes('__proto__')) return Object.fromEntries(header.map((h, k) => [h, values[k] ?? '']));
  const fields: Record<string, unknown> = {};
  for (let k = 0; k < header.length; k++) fields[header[k] as string] = values[k] ?? '';
  return fields;
}

/** csv-parse's sync parser, loaded on the first record with a quote (~10 ms a run without one saves). */
const csvParse = lazyRequire<typeof import('csv-parse/sync')>('csv-parse/sync');

/**
 * Characters csv-parse's `trim` removes besides ASCII space and tab (its list of Unicode white space).
 * recpull keeps them: an NBSP or U+2028 at the end of an id is part of the id.
 */
const KEPT_SPACE = /[\v\f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/g;

/**
 * Parses one CSV/TSV record with csv-parse, trimming only ASCII space and tab around fields (spaces around
 * a quoted field included). The other white space csv-parse would trim is swapped for a placeholder that
 * the record does not contain, then put back in order. Throws csv-parse's error for a malformed record.
 */
function parseRecord(record: string, delimiter: string): string[] {
  // No quote: the fields are the text between delimiters (csv-parse would only trim them); this path
  // costs a split, not a parser set up per record (1M rows: seconds instead of minutes).
  if (!record.includes('"')) {
    const values = record.split(delimiter);
    for (let i = 0; i < values.length; i++) values[i] = trimAscii(values[i] as string); // in place
    return values;
  }
  const parse = (text: string) =>
    (csvParse().parse(text, { delimiter, trim: true, relax_column_count: true }) as string[][])[0] ?? [];
  const kept = record.match(KEPT_SPACE);
  if (!kept) return parse(record);
  let marker = 0xe000; // a private-use character absent from the record
  while (record.includes(String.fromCharCode(marker))) marker++;
  const m = String.fromCharCode(marker);
  let i = 0;
  return parse(record.replace(KEPT_SPACE, m)).map((v) => v.replaceAll(m, () => kept[i++] as string));
}

/**
 * Whether an input field's value can stand for itself: a string, number or boolean (an NDJSON row may
 * also hold null, objects and arrays).
 */
export function isScalarValue(v: unknown): v is string | number | boolean {
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean';
}

/**
 * A field of a row as a string without ASCII spaces and tabs at its ends (other characters are part of
 * the value), matching the name (ASCII) case-insensitively; undefined when missing, null or blank, and
 * when an NDJSON row gives an object or array there (it names no recording: sent on, it would be the
 * text `[object Object]`).
 */
export function field(fields: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const wanted = name.toLowerCase();
    for (const k in fields) {
      // a name of another length is not lower-cased (a row of three columns lower-cased each for each
      // field looked up); only İ changes length, and its lower case is not an ASCII name's
      if (k.length !== wanted.length || (k !== wanted && k.toLowerCase() !== wanted)) continue;
      if (!Object.hasOwn(fields, k)) continue;
      const v = fields[k];
      if (isScalarValue(v)) {
        const text = trimAscii(String(v));
        if (text !== '') return text;
      }
    }
  }
  return undefined;
}
