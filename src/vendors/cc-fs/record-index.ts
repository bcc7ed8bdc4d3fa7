/**
 * The recording index CC-FS exports (`*_record.csv` inside a bill file zip; reference:
 * huawei/ccfs-interface-reference-extract.txt 4.2.1 "Definitions of Recording Index Files"): one recording a
 * line, no header row, the 18 columns below in that order. `original_file_name` is a Windows path
 * (`X:\17\0\20180903\15470\2043295.V3`) that downloadRecord takes with `\` turned into `/`.
 */
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { RecpullError } from '../../core/errors.js';

/** The columns of a recording index line, in order (4.2.1). */
export const RECORD_INDEX_COLUMNS = [
  'developer',
  'account_id',
  'cc_id',
  'agent_id',
  'call_id',
  'caller_no',
  'callee_no',
  'call_begin',
  'call_end',
  'file_name',
  'task_status',
  'task_result',
  'original_file_name',
  'vdn_id',
  'call_type',
  'media_type',
  'user_wanted_skill_id',
  'current_skill_id',
] as const;

/** One line: column name → value (columns missing at the end of a short line are absent). */
export type RecordIndexRow = Partial<Record<(typeof RECORD_INDEX_COLUMNS)[number], string>>;

/** A parsed line (1-based `line`) or a line that cannot be used. */
export type RecordIndexItem = { line: number; row: RecordIndexRow } | { line: number; error: RecpullError };

/** Columns a line must have: up to `original_file_name` (the 13th). */
const MIN_COLUMNS = 13;

/**
 * Reads a recording index as it streams. A line with fewer than 13 columns or an empty original_file_name
 * is yielded as an `E_INPUT` error (naming the line) and reading goes on; a malformed CSV (an unclosed
 * quote) yields one error and ends the file. Extra columns (a newer CC-FS) are ignored. A UTF-8 BOM is skipped.
 */
export async function* readRecordIndex(
  input: Readable,
  source = 'recording index',
): AsyncGenerator<RecordIndexItem> {
  const parser = input.pipe(
    parse({ bom: true, relax_column_count: true, skip_empty_lines: true, info: true, trim: true }),
  );
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = rec.info.lines;
      const cells = rec.record;
      if (cells.length < MIN_COLUMNS || !cells[MIN_COLUMNS - 1]) {
        yield {
          line,
          error: new RecpullError(
            'E_INPUT',
            `${source} line ${line}: expected the ${RECORD_INDEX_COLUMNS.length} recording index columns ` +
              `(original_file_name is the 13th), got ${cells.length}`,
          ),
        };
        continue;
      }
      const row: RecordIndexRow = {};
      RECORD_INDEX_COLUMNS.forEach((name, i) => {
        const v = cells[i];
        if (v !== undefined) row[name] = v;
      });
      yield { line, row };
    }
  } catch (err) {
    const e = err as Error & { lines?: number };
    yield {
      line: e.lines ?? 0,
      error: new RecpullError('E_INPUT', `${source}: not a readable CSV (${e.message})`),
    };
  }
}
