/**
 * Input lists (`--input FILE|-`): CSV or TSV with a header row, or NDJSON, told apart by their content.
 * Rows are yielded as they arrive, so a pipe's first rows are downloading before the pipe closes. A row
 * that cannot be read is yielded as an error with its line number; the rows after it still come.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { RecpullError } from './errors.js';

/** One row: 1-based `line` and its fields (CSV/TSV header names lower-cased and trimmed). */
export type InputRow =
  | { line: number; fields: Record<string, unknown> }
  | { line: number; error: RecpullError };

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

async function* delimitedRows(stream: Readable, delimiter: string): AsyncGenerator<InputRow> {
  const skipped: InputRow[] = [];
  const parser = stream.pipe(
    parse({
      delimiter,
      bom: true,
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      skip_empty_lines: true,
      trim: true,
      info: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        const line = (err as { lines?: number } | undefined)?.lines ?? 0;
        skipped.push({
          line,
          error: new RecpullError('E_INPUT', `line ${line}: ${err?.message ?? 'unreadable row'}`),
        });
        return undefined;
      },
    }),
  );
  for await (const item of parser as AsyncIterable<{
    record: Record<string, string>;
    info: { lines: number };
  }>) {
    while (skipped.length > 0) yield skipped.shift() as InputRow;
    yield { line: item.info.lines, fields: item.record };
  }
  while (skipped.length > 0) yield skipped.shift() as InputRow;
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
