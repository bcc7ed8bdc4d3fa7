/**
 * Input lists (`--input FILE|-`): CSV or TSV with a header row, or NDJSON, told apart by their content.
 * Rows are yielded as they arrive, so a pipe's first rows are downloading before the pipe closes. A row
 * that cannot be read is yielded as an error with its line number; the rows after it still come.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { parse as parseSync } from 'csv-parse/sync';
import { RecpullError } from './errors.js';

/** One row: 1-based `line` and its fields (CSV/TSV header names lower-cased and trimmed). */
export type InputRow =
  { line: number; fields: Record<string, unknown> } | { line: number; error: RecpullError };

/** Opens `--input`: `-` is standard input. Throws `E_INPUT` for a file that cannot be opened. */
export async function openInput(spec: string, stdin: Readable = process.stdin): Promise<Readable> {
  if (spec === '-') return stdin;
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

/** Reads rows from a CSV, TSV or NDJSON stream (format detected from the first bytes). */
export async function* readInputRows(stream: Readable): AsyncGenerator<InputRow> {
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
  const first = text.replace(/^\uFEFF/, '').trimStart();
  if (first === '') return;
  if (first.startsWith('{')) yield* ndjsonRows(rest);
  else yield* delimitedRows(rest, (first.split('\n')[0] ?? '').includes('\t') ? '\t' : ',');
}

async function* ndjsonRows(stream: Readable): AsyncGenerator<InputRow> {
  let line = 0;
  for await (const raw of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    const text = (line === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
    if (text === '') continue;
    try {
      const value = JSON.parse(text) as unknown;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        yield { line, error: new RecpullError('E_INPUT', `line ${line}: expected a JSON object`) };
      } else yield { line, fields: value as Record<string, unknown> };
    } catch (err) {
      yield {
        line,
        error: new RecpullError('E_INPUT', `line ${line}: not valid JSON (${(err as Error).message})`),
      };
    }
  }
}

/**
 * CSV/TSV rows as soon as their line arrives: lines are joined while a quoted field is open (RFC 4180
 * allows newlines inside quotes), then each record is parsed by csv-parse's sync parser. (csv-parse's
 * stream holds back the last record until more input comes, which would stall a pipe by one row.)
 */
async function* delimitedRows(stream: Readable, delimiter: string): AsyncGenerator<InputRow> {
  let header: string[] | undefined;
  let pending = '';
  let startLine = 0;
  let line = 0;
  for await (const raw of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (pending === '') {
      if (text.trim() === '') continue;
      startLine = line;
      pending = text;
    } else pending += `\n${text}`;
    if ((pending.match(/"/g)?.length ?? 0) % 2 === 1) continue; // a quoted field goes on
    const record = pending;
    pending = '';
    let values: string[];
    try {
      values =
        (parseSync(record, { delimiter, trim: true, relax_column_count: true }) as string[][])[0] ?? [];
    } catch (err) {
      yield {
        line: startLine,
        error: new RecpullError('E_INPUT', `line ${startLine}: ${(err as Error).message}`),
      };
      continue;
    }
    if (!header) {
      header = values.map((h) => h.trim().toLowerCase());
      continue;
    }
    if (values.length !== header.length) {
      yield {
        line: startLine,
        error: new RecpullError(
          'E_INPUT',
          `line ${startLine}: expected ${header.length} fields (${header.join(delimiter === '\t' ? ' ' : ', ')}), found ${values.length}`,
        ),
      };
      continue;
    }
    yield { line: startLine, fields: Object.fromEntries(header.map((h, k) => [h, values[k] ?? ''])) };
  }
  if (pending !== '')
    yield {
      line: startLine,
      error: new RecpullError('E_INPUT', `line ${startLine}: a quoted field is never closed`),
    };
}

/** A field of a row as a trimmed string, matching the name case-insensitively. */
export function field(fields: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    for (const [k, v] of Object.entries(fields)) {
      if (
        k.toLowerCase() === name.toLowerCase() &&
        v !== undefined &&
        v !== null &&
        String(v).trim() !== ''
      ) {
        return String(v).trim();
      }
    }
  }
  return undefined;
}
