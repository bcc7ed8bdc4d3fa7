/**
 * Refs from an input list (`--input`), for the vendors' `Source.refs`: the rows of `readInputBatches`
 * (src/core/input.ts) turned into refs by the vendor, in the same arrays, so a run over the list awaits
 * once per array (at most 128 rows) instead of once per row; and the copy of a row's fields that can be
 * template fields.
 */
import type { Readable } from 'node:stream';
import { type InputRow, isScalarValue, readInputBatches } from './input.js';
import type { MetaValue, RefItem } from './source.js';

/** A row that could be read: 1-based `line` and its fields. */
export type ReadableRow = Extract<InputRow, { fields: unknown }>;

/**
 * Turns a readable row into its ref, or into an `InputRowError` for a row the vendor cannot use (code
 * `E_INPUT`, its message naming the line). Must not throw.
 */
export type RowToRef = (row: ReadableRow) => RefItem;

/**
 * The refs of the input list `input`, one array per array of rows (never empty, at most 128, in input
 * order): an unreadable row becomes its `InputRowError`, every other goes through `toRef`. A `Source.refs`
 * yields them as they come (`yield* inputRefs(...)`).
 */
export async function* inputRefs(input: Readable, toRef: RowToRef): AsyncGenerator<RefItem[]> {
  for await (const rows of readInputBatches(input)) yield rows.map((row) => rowItem(row, toRef));
}

/** One row as `inputRefs` turns it: its `InputRowError` when it could not be read, else `toRef(row)`. */
export function rowItem(row: InputRow, toRef: RowToRef): RefItem {
  return 'error' in row ? { inputError: row.error, line: row.line } : toRef(row);
}

/**
 * The fields of a row that can be template fields: strings, numbers, booleans and null (an NDJSON row's
 * objects and arrays are dropped). A field named `__proto__` is dropped too (assigning it would set the
 * copy's prototype).
 */
export function scalarFields(fields: Record<string, unknown>): Record<string, MetaValue> {
  const meta: Record<string, MetaValue> = {};
  for (const k in fields) {
    if (!Object.hasOwn(fields, k)) continue;
    const v = fields[k];
    if (v === null || isScalarValue(v)) meta[k] = v;
  }
  return meta;
}
