/**
 * Listing legs by time with the REST hour listing (noojee/noojee-notes.md, "9.4 Retrieve recording list"):
 * one request per hour of the PBX's wall clock (`date=yyyy/MM/dd&hour=H`, zero-based 24 h), which returns
 * the legs that ENDED in that hour; "wait a few minutes after the hour" → an hour is listed only once it
 * ended at least 5 minutes ago. A leg belongs to a range [from, to) when it ended in it.
 *
 * Leg fields (9.1 and 9.4 examples): Source, Destination, Direction, Start, Duration (seconds), Tag,
 * Username, CallRecordId, UniqueId, DID, Leg, callend; `Start` is `2014-02-13 17:06:52.0` on one page and
 * `Tue Sep 14 15:03:30 AEST 2021` (Java `Date.toString()`) on another: both parse, as wall time of the PBX's
 * zone (a `UTC`/`GMT`/`GMT+10` zone text is honoured; other abbreviations such as AEST are ambiguous worldwide
 * and only name the configured zone).
 */
import { parseDateTime, zonedParts } from '../../core/dates.js';
import { RecpullError } from '../../core/errors.js';

/** The grace after an hour ends before it may be listed, ms (the notes: "wait a few minutes"). */
export const LISTING_GRACE_MS = 5 * 60_000;

/** One hour to list: the request's `date` (`yyyy/MM/dd`) and `hour` (0–23), and the instants it spans. */
export interface ListingHour {
  date: string;
  hour: number;
  start: Date;
  end: Date;
}

/** The hours to list for [from, to), and how far the listing reaches. */
export interface ListingPlan {
  hours: ListingHour[];
  /**
   * Legs that ended before this instant are all covered: `to`, or the end of the last hour old enough to be
   * listed when `to` is too recent (the `--since-last` cursor may advance to it, not further).
   */
  coveredUntil: Date;
}

const HOUR = 3_600_000;

function hourStart(at: Date, tz: string): Date {
  const p = zonedParts(at, tz);
  return parseDateTime(`${p.year}-${p.month}-${p.day}T${p.hour}:00`, tz);
}

/**
 * The PBX-local hours whose legs may have ended in [from, to), oldest first, each once (a wall-clock hour
 * repeated by a DST change is asked once), stopping before any hour that ends later than `now - graceMs`.
 */
export function listingHours(
  from: Date,
  to: Date,
  tz: string,
  now: Date,
  graceMs = LISTING_GRACE_MS,
): ListingPlan {
  const hours: ListingHour[] = [];
  const seen = new Set<string>();
  const latest = now.getTime() - graceMs;
  let cur = hourStart(from, tz);
  let coveredUntil = to;
  while (cur.getTime() < to.getTime()) {
    let next = hourStart(new Date(cur.getTime() + HOUR), tz);
    if (next.getTime() <= cur.getTime()) next = new Date(cur.getTime() + HOUR);
    if (next.getTime() > latest) {
      coveredUntil = new Date(Math.max(from.getTime(), Math.min(to.getTime(), cur.getTime())));
      break;
    }
    const p = zonedParts(cur, tz);
    const key = `${p.year}/${p.month}/${p.day}:${Number(p.hour)}`;
    if (!seen.has(key)) {
      seen.add(key);
      hours.push({ date: `${p.year}/${p.month}/${p.day}`, hour: Number(p.hour), start: cur, end: next });
    }
    cur = next;
  }
  return { hours, coveredUntil };
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const JAVA_DATE = /^[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\S+)\s+(\d{4})$/;

/**
 * Parses a Noojee time text (either format, see the module comment) as wall time of `tz`.
 * @throws RecpullError `E_PROTOCOL` for a text in neither format.
 */
export function parseNoojeeTime(text: string, tz: string): Date {
  const t = text.trim();
  const java = JAVA_DATE.exec(t);
  if (java) {
    const [, mon, day, hh, mm, ss, zone, year] = java as unknown as string[];
    const month = MONTHS.indexOf((mon as string).toLowerCase());
    if (month >= 0) {
      const wall = `${year}-${String(month + 1).padStart(2, '0')}-${(day as string).padStart(2, '0')}T${hh}:${mm}:${ss}`;
      const offset = /^(?:UTC|GMT|Z)(?:([+-])(\d{1,2})(?::?(\d{2}))?)?$/i.exec(zone as string);
      try {
        if (offset) {
          const suffix = offset[1]
            ? `${offset[1]}${(offset[2] as string).padStart(2, '0')}:${offset[3] ?? '00'}`
            : 'Z';
          return parseDateTime(`${wall}${suffix}`, tz);
        }
        return parseDateTime(wall, tz);
      } catch {
        // reported below
      }
    }
  } else if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}/.test(t)) {
    try {
      return parseDateTime(t, tz);
    } catch {
      // reported below
    }
  }
  throw new RecpullError('E_PROTOCOL', `the listing has a time Noojee does not write: "${t.slice(0, 60)}"`);
}

/** One leg of the listing, as recpull uses it; `entry` is the server's object as received. */
export interface NoojeeLeg {
  uniqueId: string;
  /** The owner; `''` when the listing left it empty (the profile's username is used then). */
  username: string;
  tag: string;
  source: string;
  destination: string;
  direction: string;
  did: string;
  callRecordId: string;
  leg: string;
  start: Date;
  /** Seconds. */
  durationS: number;
  /** Start + duration (else `callend`). */
  end: Date;
  entry: Record<string, unknown>;
}

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v).trim();
}

/**
 * A listing entry as a leg, or an `E_PROTOCOL` error (no UniqueId, an unreadable Start, no way to tell when
 * the leg ended).
 */
export function legFromEntry(entry: Record<string, unknown>, tz: string): NoojeeLeg {
  const uniqueId = str(entry.UniqueId);
  if (uniqueId === '') throw new RecpullError('E_PROTOCOL', 'a listing entry has no UniqueId');
  const start = parseNoojeeTime(str(entry.Start), tz);
  const duration = Number(str(entry.Duration));
  let end: Date;
  if (str(entry.Duration) !== '' && Number.isFinite(duration))
    end = new Date(start.getTime() + duration * 1000);
  else if (str(entry.callend) !== '') end = parseNoojeeTime(str(entry.callend), tz);
  else throw new RecpullError('E_PROTOCOL', `listing entry ${uniqueId} has neither Duration nor callend`);
  return {
    uniqueId,
    username: str(entry.Username),
    tag: str(entry.Tag),
    source: str(entry.Source),
    destination: str(entry.Destination),
    direction: str(entry.Direction),
    did: str(entry.DID),
    callRecordId: str(entry.CallRecordId),
    leg: str(entry.Leg),
    start,
    durationS: Number.isFinite(duration) ? duration : Math.round((end.getTime() - start.getTime()) / 1000),
    end,
    entry,
  };
}
