/**
 * `recpull timplus`: which recordings to fetch (an input list with `datasource`, `voicelocation`,
 * `voicefilename` columns, or one recording from flags) and how (the two-step client).
 */
import type { Readable } from 'node:stream';
import { RecpullError } from '../../core/errors.js';
import { field } from '../../core/input.js';
import { inputRefs, type ReadableRow, scalarFields } from '../../core/input-refs.js';
import type { FetchContext, FetchedBody, RecordingRef, RefItem, Source } from '../../core/source.js';
import type { TimplusClient, TimplusRecordingId } from './client.js';

/** The template fields of a TIM Plus recording. */
export const TIMPLUS_FIELDS = ['datasource', 'voicelocation', 'voicefilename'] as const;

/** The default output template of TIM Plus recordings. */
export const TIMPLUS_TEMPLATE = '{vendor}/{datasource}/{voicelocation}/{voicefilename}.{ext}';

/** `timplus:<datasource>:<voicelocation>:<voicefilename>` */
export function timplusKey(id: TimplusRecordingId): string {
  return `timplus:${id.datasource}:${id.voicelocation}:${id.voicefilename}`;
}

/** What to fetch: an input stream of rows, or a single recording. */
export type TimplusSelection = { input: Readable } | { single: TimplusRecordingId };

/** The TIM Plus `Source`: refs from the selection, fetch = token (step 1) then Echo download (step 2). */
export function timplusSource(client: TimplusClient, selection: TimplusSelection): Source {
  return {
    vendor: 'timplus',
    fields: TIMPLUS_FIELDS,
    defaultTemplate: TIMPLUS_TEMPLATE,
    async *refs(): AsyncIterable<RefItem | RefItem[]> {
      if ('single' in selection) {
        yield toRef(selection.single, {});
        return;
      }
      yield* inputRefs(selection.input, rowRef);
    },
    async fetch(ref: RecordingRef, ctx: FetchContext): Promise<FetchedBody> {
      const id = ref.meta as unknown as TimplusRecordingId;
      const token = await client.tokenUrl(id, ctx.signal);
      return client.download(token, ctx.signal);
    },
  };
}

/** The ref of one input row, or why the row cannot be one (`E_INPUT`: a missing column, naming the line). */
function rowRef(row: ReadableRow): RefItem {
  const id = {
    datasource: field(row.fields, 'datasource'),
    voicelocation: field(row.fields, 'voicelocation'),
    voicefilename: field(row.fields, 'voicefilename', 'recordingid'),
  };
  let missing: string[] | undefined;
  for (const k in id) if (id[k as keyof typeof id] === undefined) (missing ??= []).push(k);
  if (missing) {
    return {
      inputError: new RecpullError('E_INPUT', `line ${row.line}: missing ${missing.join(', ')}`),
      line: row.line,
    };
  }
  return toRef(id as TimplusRecordingId, row.fields, row.line);
}

function toRef(id: TimplusRecordingId, extra: Record<string, unknown>, line?: number): RecordingRef {
  const meta = scalarFields(extra);
  Object.assign(meta, id);
  const ref: RecordingRef = { key: timplusKey(id), vendor: 'timplus', meta };
  if (line !== undefined) ref.line = line;
  return ref;
}
