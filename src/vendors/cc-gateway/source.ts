/**
 * The CC-Gateway `Source`: one agent session for the whole run (signed in and set busy in `open`, kept
 * alive by the event poll, signed out in `close`), refs from `--record-id` flags or an input list, and
 * `fetch` = recordfile through that session.
 */
import type { Readable } from 'node:stream';
import { RecpullError } from '../../core/errors.js';
import { now } from '../../core/events.js';
import { isTlsFailure } from '../../core/http.js';
import { inputRefs } from '../../core/input-refs.js';
import type {
  FetchContext,
  FetchedBody,
  OpenContext,
  RecordingRef,
  RefItem,
  RunOutcome,
  Source,
} from '../../core/source.js';
import type { G711Law } from '../../formats/g711-wav.js';
import { downloadRecording } from './download.js';
import {
  CC_GATEWAY_FIELDS,
  CC_GATEWAY_TEMPLATE,
  type CcRecordId,
  ccGatewayRef,
  recordIdFromRow,
} from './record.js';
import type { CcGatewaySession } from './session.js';

/**
 * What to fetch: record paths from flags (`--record-id`, with one `--location-id` and `--filetype` for all),
 * or an input list of rows (`filetype` is the default for rows without one).
 */
export type CcGatewaySelection =
  | { recordIds: string[]; locationId?: string; filetype?: '1' | '2' }
  | { input: Readable; filetype?: '1' | '2' };

/** Options of the source. */
export interface CcGatewaySourceOptions {
  /** Wrap headerless bodies in a WAV header of this G.711 law (`--raw-format`). */
  rawFormat?: G711Law;
  /** Show keep-alive hiccups as notices (`--verbose`). */
  verbose?: boolean;
}

/** Builds the source. The session must not be signed in yet: `open` does it. */
export function ccGatewaySource(
  session: CcGatewaySession,
  selection: CcGatewaySelection,
  opts: CcGatewaySourceOptions = {},
): Source {
  let emit: OpenContext['emit'] = () => {};
  const notice = (level: 'info' | 'warn', message: string) =>
    emit({ type: 'notice', at: now(), level, message });
  return {
    vendor: 'cc-gateway',
    fields: CC_GATEWAY_FIELDS,
    defaultTemplate: CC_GATEWAY_TEMPLATE,
    async open(ctx: OpenContext): Promise<void> {
      emit = ctx.emit;
      session.onNotice = (level, message) => {
        if (level !== 'debug') notice(level, message);
        else if (opts.verbose) notice('info', message);
      };
      try {
        await session.signIn(ctx.signal);
      } catch (err) {
        // A gateway whose certificate cannot be verified cannot be signed in to: exit 3, not a network blip.
        if (!isTlsFailure(err)) throw err;
        throw new RecpullError(
          'E_AUTH',
          `cannot verify the CC-Gateway's TLS certificate: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      notice(
        'info',
        `signed in to the CC-Gateway as agent ${session.opts.agentId} and set it busy: no call is routed to it during the run`,
      );
      session.startKeepAlive((err) => ctx.fail(err));
    },
    async *refs(): AsyncIterable<RefItem | RefItem[]> {
      if ('recordIds' in selection) {
        for (const recordId of selection.recordIds) {
          const id: CcRecordId = { recordId, filetype: selection.filetype ?? '1' };
          if (selection.locationId !== undefined && selection.locationId !== '')
            id.locationId = selection.locationId;
          yield ccGatewayRef(id);
        }
        return;
      }
      yield* inputRefs(selection.input, (row) => {
        try {
          return ccGatewayRef(recordIdFromRow(row, selection.filetype ?? '1'), row.fields, row.line);
        } catch (err) {
          return { inputError: err as RecpullError, line: row.line };
        }
      });
    },
    async fetch(ref: RecordingRef, ctx: FetchContext): Promise<FetchedBody> {
      // The ref's record holds the id as selected (a locationId only when one was given).
      const rec = ref.record as CcRecordId;
      const id: CcRecordId = {
        recordId: rec.recordId,
        filetype: rec.filetype,
        ...(rec.locationId !== undefined ? { locationId: rec.locationId } : {}),
      };
      const fetched = await downloadRecording(session, id, {
        signal: ctx.signal,
        key: ref.key,
        ...(opts.rawFormat ? { rawFormat: opts.rawFormat } : {}),
        warn: (message) => notice('warn', message),
      });
      const raw = fetched.unvalidated;
      if (!raw) return fetched;
      return {
        ...fetched,
        body: afterLast(fetched.body, () =>
          notice(
            'warn',
            `${id.recordId}: no WAV header; saved as received (.${raw.ext}), not validated (--raw-format alaw|mulaw wraps such recordings in a WAV header)`,
          ),
        ),
      };
    },
    async close(_outcome: RunOutcome, signal: AbortSignal): Promise<void> {
      await session.close(signal);
    },
  };
}

/** Passes `body` on and calls `done` once its last chunk was taken (not when it fails or is abandoned). */
async function* afterLast(body: AsyncIterable<Uint8Array>, done: () => void): AsyncGenerator<Uint8Array> {
  yield* body;
  done();
}
