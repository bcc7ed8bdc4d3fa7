/**
 * `recpull noojee`: which recordings to fetch and how.
 *
 * - Ids: `--tag T` / `--unique-id ID` (Asterisk uniqueids such as `1392271611.238` are opaque strings),
 *   retrieved as the profile's user.
 * - An input list: rows with `tag` or `uniqueId` (`unique_id`, `uniqueid`), optional `username`; other
 *   columns become template fields.
 * - A time range: the hour listing (./listing.ts) of every PBX hour the range touches, through the listing
 *   limiter, keeping the legs that ended in [from, to), each uniqueid once; each leg is retrieved by
 *   uniqueid as its `Username` (the profile's user when the listing leaves it empty), and its fields
 *   become template fields and the `--metadata` record.
 *
 * Keys: `noojee:tag:<tag>` and `noojee:uid:<uniqueId>`. A fetch is never resumable (the server has no
 * `Range`): a cut body starts over.
 */
import type { Readable } from 'node:stream';
import { zonedParts } from '../../core/dates.js';
import { RecpullError } from '../../core/errors.js';
import { type EventSink, now } from '../../core/events.js';
import { field } from '../../core/input.js';
import { inputRefs, scalarFields } from '../../core/input-refs.js';
import type {
  FetchContext,
  FetchedBody,
  MetaValue,
  RecordingRef,
  RefItem,
  RunOutcome,
  Source,
} from '../../core/source.js';
import type { NoojeeClient } from './client.js';
import { listingHours, type NoojeeLeg } from './listing.js';
import type { NoojeeRecordingId } from './urls.js';

/** Every template field a Noojee ref may carry (besides `vendor`, `ext`, `key`). */
export const NOOJEE_FIELDS = [
  'kind',
  'id',
  'tag',
  'uniqueId',
  'username',
  'source',
  'destination',
  'direction',
  'did',
  'callRecordId',
  'leg',
  'startTime',
  'date',
  'time',
  'year',
  'month',
  'day',
  'duration',
] as const;

/** Default template of recordings fetched by tag or uniqueid: `noojee/fred/tag/ORD-1001.wav`. */
export const NOOJEE_ID_TEMPLATE = '{vendor}/{username}/{kind}/{id}.{ext}';

/** Default template of listed legs: date folders, start time, direction, numbers, uniqueid. */
export const NOOJEE_LISTING_TEMPLATE =
  '{vendor}/{year}/{month}/{day}/{date}_{time}_{direction}_{source}_{destination}_{uniqueId}.{ext}';

/** What to fetch. Dates are instants. */
export type NoojeeSelection =
  { tags: string[]; uniqueIds: string[] } | { input: Readable } | { from: Date; to: Date };

/** Everything the source needs. */
export interface NoojeeSourceOptions {
  client: NoojeeClient;
  selection: NoojeeSelection;
  /** The PBX's IANA zone: listing hours and the template's date fields. */
  tz: string;
  /** Clock for "an hour ended 5 minutes ago" (default `Date.now`), epoch ms. */
  now?: () => number;
  /** Called when a listing run succeeded, with how far the listing reached (advances `--since-last`). */
  onSuccess?: (coveredUntil: Date) => Promise<void>;
}

/** `noojee:tag:<tag>` / `noojee:uid:<uniqueId>`. */
export function noojeeKey(id: NoojeeRecordingId): string {
  return 'tag' in id ? `noojee:tag:${id.tag}` : `noojee:uid:${id.uniqueId}`;
}

/** The template fields of a listed leg, dates in `tz`. */
export function legMeta(leg: NoojeeLeg, username: string, tz: string): Record<string, MetaValue> {
  const p = zonedParts(leg.start, tz);
  return {
    kind: 'uid',
    id: leg.uniqueId,
    uniqueId: leg.uniqueId,
    tag: leg.tag,
    username,
    source: leg.source || 'unknown',
    destination: leg.destination || 'unknown',
    direction: leg.direction || 'unknown',
    did: leg.did,
    callRecordId: leg.callRecordId,
    leg: leg.leg,
    startTime: leg.start.toISOString(),
    date: `${p.year}-${p.month}-${p.day}`,
    time: `${p.hour}${p.minute}${p.second}`,
    year: p.year,
    month: p.month,
    day: p.day,
    duration: leg.durationS,
  };
}

/** A ref for a recording known by tag or uniqueid, fetched as `username`. */
export function refFromId(
  id: NoojeeRecordingId,
  username: string,
  extra: Record<string, MetaValue> = {},
): RecordingRef {
  const own: Record<string, MetaValue> =
    'tag' in id
      ? { kind: 'tag', id: id.tag, tag: id.tag }
      : { kind: 'uid', id: id.uniqueId, uniqueId: id.uniqueId };
  return { key: noojeeKey(id), vendor: 'noojee', meta: { ...extra, ...own, username } };
}

/** The Source of one `recpull noojee` run (see the module comment). */
export class NoojeeSource implements Source {
  readonly vendor = 'noojee';
  readonly fields = NOOJEE_FIELDS;
  readonly defaultTemplate: string;
  /** Set once a listing has been planned: legs that ended before it are covered. */
  coveredUntil: Date | undefined;

  constructor(private readonly o: NoojeeSourceOptions) {
    this.defaultTemplate = 'from' in o.selection ? NOOJEE_LISTING_TEMPLATE : NOOJEE_ID_TEMPLATE;
  }

  async open(ctx: { signal: AbortSignal; emit: EventSink }): Promise<void> {
    this.o.client.listingLimiter.onWait = (w) => ctx.emit({ type: 'rate-limit-wait', at: now(), ...w });
  }

  async close(outcome: RunOutcome): Promise<void> {
    if (outcome.ok && this.coveredUntil !== undefined) await this.o.onSuccess?.(this.coveredUntil);
  }

  async *refs(signal: AbortSignal): AsyncIterable<RefItem | RefItem[]> {
    const sel = this.o.selection;
    const user = this.o.client.username;
    if ('tags' in sel) {
      for (const tag of sel.tags) yield refFromId({ tag }, user);
      for (const uniqueId of sel.uniqueIds) yield refFromId({ uniqueId }, user);
    } else if ('input' in sel) {
      yield* this.fromList(sel.input);
    } else {
      yield* this.listed(sel.from, sel.to, signal);
    }
  }

  async fetch(ref: RecordingRef, ctx: FetchContext): Promise<FetchedBody> {
    const m = ref.meta;
    const id: NoojeeRecordingId =
      m.kind === 'tag' ? { tag: String(m.tag) } : { uniqueId: String(m.uniqueId) };
    const username =
      typeof m.username === 'string' && m.username !== '' ? m.username : this.o.client.username;
    const fetched = await this.o.client.retrieve(id, ctx.signal, username);
    return { ...fetched, resumable: false };
  }

  /** `--input` rows: `tag` or `uniqueId`, optional `username`. */
  private fromList(input: Readable): AsyncIterable<RefItem[]> {
    return inputRefs(input, (row) => {
      const tag = field(row.fields, 'tag');
      const uniqueId = field(row.fields, 'uniqueId', 'unique_id', 'uniqueid');
      if ((tag === undefined) === (uniqueId === undefined)) {
        return {
          inputError: new RecpullError(
            'E_INPUT',
            `line ${row.line}: ${tag === undefined ? 'missing tag or uniqueId' : 'both tag and uniqueId: give one'}`,
          ),
          line: row.line,
        };
      }
      const username = field(row.fields, 'username') ?? this.o.client.username;
      const id: NoojeeRecordingId = tag !== undefined ? { tag } : { uniqueId: uniqueId as string };
      return { ...refFromId(id, username, scalarFields(row.fields)), line: row.line };
    });
  }

  /** The legs that ended in [from, to), hour by hour, each uniqueid once. */
  private async *listed(from: Date, to: Date, signal: AbortSignal): AsyncIterable<RecordingRef> {
    const plan = listingHours(from, to, this.o.tz, new Date((this.o.now ?? Date.now)()));
    this.coveredUntil = plan.coveredUntil;
    const seen = new Set<string>();
    for (const hour of plan.hours) {
      const legs = await this.o.client.listHour(hour, this.o.tz, signal);
      for (const leg of legs) {
        const end = leg.end.getTime();
        if (end < from.getTime() || end >= plan.coveredUntil.getTime() || seen.has(leg.uniqueId)) continue;
        seen.add(leg.uniqueId);
        const username = leg.username || this.o.client.username;
        yield {
          key: noojeeKey({ uniqueId: leg.uniqueId }),
          vendor: 'noojee',
          meta: legMeta(leg, username, this.o.tz),
          record: leg.entry,
        };
      }
    }
  }
}
