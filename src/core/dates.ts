/**
 * Dates on the command line and in output paths, in an IANA time zone: `--from 2024-06-01` is local
 * midnight of that day in the zone, `--from 2024-06-01T08:30` local wall time, and a value with `Z` or an
 * offset is taken as it is. Formatting splits an instant into the zone's calendar parts for templates.
 */
import { RecpullError } from './errors.js';

/** The zone recpull uses when none is configured: the system's. */
export function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Calendar parts of an instant in a zone: zero-padded strings (`2024`, `06`, `01`, `08`, `05`, `09`). */
export interface ZonedParts {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar parts of `date` in `zone`. */
export function zonedParts(date: Date, zone: string): ZonedParts {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(date)) parts[p.type] = p.value;
  return {
    year: parts.year ?? '0000',
    month: parts.month ?? '00',
    day: parts.day ?? '00',
    hour: parts.hour ?? '00',
    minute: parts.minute ?? '00',
    second: parts.second ?? '00',
  };
}

/** Offset of `zone` from UTC at instant `ms`, in ms (east positive). */
function offsetAt(ms: number, zone: string): number {
  const p = zonedParts(new Date(ms), zone);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant at which the wall clock of `zone` shows the given time (the earlier one in a DST overlap). */
function fromWallTime(wall: number, zone: string): number {
  let guess = wall - offsetAt(wall, zone);
  for (let i = 0; i < 3; i++) {
    const next = wall - offsetAt(guess, zone);
    if (next === guess) break;
    guess = next;
  }
  return guess;
}

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses a date (`2024-06-01`: midnight in `zone`) or date-time (`2024-06-01T08:30[:15[.250]]`, `T` or a
 * space; wall time in `zone` unless it ends in `Z` or `±hh:mm`). Throws `E_USAGE` naming `flag`.
 */
export function parseDateTime(text: string, zone: string, flag = 'date'): Date {
  const m = DATE_TIME.exec(text.trim());
  if (!m) {
    throw new RecpullError(
      'E_USAGE',
      `${flag}: expected a date (2024-06-01) or date-time (2024-06-01T08:30, 2024-06-01T08:30Z), got "${text}"`,
    );
  }
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0', tz] = m;
  const ms = Number(frac.padEnd(3, '0'));
  const wall = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +s, ms);
  const check = new Date(wall);
  if (
    check.getUTCFullYear() !== +y! ||
    check.getUTCMonth() !== +mo! - 1 ||
    check.getUTCDate() !== +d! ||
    +h > 23 ||
    +mi > 59 ||
    +s > 59
  ) {
    throw new RecpullError('E_USAGE', `${flag}: "${text}" is not a valid date`);
  }
  if (tz === undefined) return new Date(fromWallTime(wall, zone));
  if (tz.toUpperCase() === 'Z') return new Date(wall);
  const sign = tz.startsWith('-') ? -1 : 1;
  const digits = tz.slice(1).replace(':', '');
  const offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  return new Date(wall - offset);
}
