/**
 * The Noojee REST listing `POST /njadmin/rest/RecordingAPI/retrieveMetaDataByHour?apiKey=&date=yyyy/MM/dd&hour=H`
 * (noojee/noojee-notes.md, "9.4 Retrieve recording list"): the legs that ENDED in that hour of the PBX's
 * zone, as a JSON array of {Source, Destination, Direction, Start, Duration, Tag, Username, CallRecordId,
 * UniqueId, DID, Leg, callend}; POST only; limited to one request a minute (the emulator's window is
 * configurable; over it: 429 with Retry-After). `Start` comes in both formats the pages show,
 * `2014-02-13 17:06:52.0` and `Tue Sep 14 15:03:30 AEST 2021`, per leg. Wrong or missing apiKey: 401 with
 * the new API's `{Code, Message}` body (noojeecontact.api).
 */
import { parseDateTime, zonedParts } from '../../core/dates.js';
import { sendJson } from '../server.js';
import type { NoojeeExchange } from './context.js';
import { endOf, type NoojeeRecording } from './recordings.js';

/** The listing path. */
export const LISTING_PATH = '/njadmin/rest/RecordingAPI/retrieveMetaDataByHour';

/** The grace the notes ask for after an hour ends before listing it, ms. */
export const LISTING_GRACE_MS = 5 * 60_000;

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The zone's short name at `ms` (`AEST`, `UTC`, or `GMT+2` where the locale has no abbreviation). */
function zoneAbbreviation(ms: number, tz: string): string {
  const parts = new Intl.DateTimeFormat('en-AU', { timeZone: tz, timeZoneName: 'short' }).formatToParts(ms);
  return parts.find((p) => p.type === 'timeZoneName')?.value.replace(/^GMT$/, 'UTC') ?? 'UTC';
}

/** An instant as Noojee writes it: `2014-02-13 17:06:52.0` (`iso`) or Java's `Date.toString()` (`java`). */
export function formatNoojeeTime(ms: number, tz: string, format: 'iso' | 'java'): string {
  const p = zonedParts(new Date(ms), tz);
  if (format === 'iso') return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}.0`;
  const weekday = DAYS[new Date(Date.UTC(+p.year, +p.month - 1, +p.day)).getUTCDay()];
  return `${weekday} ${MONTHS[+p.month - 1]} ${p.day} ${p.hour}:${p.minute}:${p.second} ${zoneAbbreviation(ms, tz)} ${p.year}`;
}

/** One leg of the listing. */
export function listingEntry(rec: NoojeeRecording, tz: string): Record<string, string> {
  return {
    Destination: rec.destination,
    UniqueId: rec.uniqueId,
    Username: rec.listedWithoutUsername ? '' : rec.username,
    Start: formatNoojeeTime(rec.start, tz, rec.startFormat),
    Duration: String(rec.durationS),
    Tag: rec.tag,
    Direction: rec.direction,
    CallRecordId: rec.callRecordId,
    DID: rec.did,
    Source: rec.source,
    callend: formatNoojeeTime(endOf(rec), tz, rec.startFormat),
    Leg: rec.leg,
  };
}

/** Handles one listing request (see the module comment). */
export function handleListing(x: NoojeeExchange): void {
  const { ctx, url, req } = x;
  x.entry.op = 'listing';
  if (req.method !== 'POST') {
    sendJson(x.res, 405, { Code: 405, Message: 'POST only' }, { allow: 'POST' });
    return;
  }
  if (url.searchParams.get('apiKey') !== ctx.apiKey) {
    sendJson(x.res, 401, { Code: 401, Message: 'Invalid apiKey' });
    return;
  }
  const t = ctx.now();
  const window = ctx.listing.windowMs;
  ctx.listingTimes = ctx.listingTimes.filter((at) => at > t - window);
  if (ctx.listingTimes.length >= ctx.listing.limit) {
    ctx.stats.rateLimitViolations++;
    x.entry.limited = true;
    const retryS = Math.max(1, Math.ceil(((ctx.listingTimes[0] as number) + window - t) / 1000));
    sendJson(
      x.res,
      429,
      { Code: 429, Message: `Rate limit exceeded: ${ctx.listing.limit} request(s) per ${window / 1000} s` },
      { 'retry-after': String(retryS) },
    );
    return;
  }
  ctx.listingTimes.push(t);
  const date = /^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$/.exec(url.searchParams.get('date') ?? '');
  const hourText = url.searchParams.get('hour') ?? '';
  const hour = /^\d{1,2}$/.test(hourText) ? Number(hourText) : -1;
  if (!date || hour < 0 || hour > 23) {
    sendJson(x.res, 400, { Code: 400, Message: 'date (yyyy/MM/dd) and hour (0-23) are required' });
    return;
  }
  const wall = (h: number) =>
    `${date[1]}-${date[2]!.padStart(2, '0')}-${date[3]!.padStart(2, '0')}T${String(h).padStart(2, '0')}:00`;
  const from = parseDateTime(wall(hour), ctx.tz).getTime();
  const to = hour === 23 ? from + 3_600_000 : parseDateTime(wall(hour + 1), ctx.tz).getTime();
  if (to + LISTING_GRACE_MS > t) ctx.stats.tooEarlyListings++;
  const legs = ctx.recordings
    .filter((r) => (r.state === 'done' || r.state === 'private') && endOf(r) >= from && endOf(r) < to)
    .map((r) => listingEntry(r, ctx.tz));
  sendJson(x.res, 200, legs);
}
