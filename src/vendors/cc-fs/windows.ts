/**
 * queryBillData time windows (reference: huawei/ccfs-interface-reference-extract.txt 4.1.2 Table 3):
 * `beginTime`/`endTime` are `yyyy-MM-dd HH:mm:ss` wall times in the tenant space's time zone and may be at
 * most three days apart (0300014 otherwise), so a longer range is split.
 */
import { zonedParts } from '../../core/dates.js';
import { RecpullError } from '../../core/errors.js';

/** One queryBillData window, in the tenant's wall time. */
export interface BillWindow {
  beginTime: string;
  endTime: string;
}

/** The longest window CC-FS takes: three days, ms. */
export const MAX_BILL_WINDOW_MS = 3 * 24 * 3600 * 1000;

/** `yyyy-MM-dd HH:mm:ss` of `date` in `zone`. */
export function tenantTime(date: Date, zone: string): string {
  const p = zonedParts(date, zone);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** Wall-clock distance between two `yyyy-MM-dd HH:mm:ss` strings, ms. */
function wallDistance(a: string, b: string): number {
  return Date.parse(`${b.replace(' ', 'T')}Z`) - Date.parse(`${a.replace(' ', 'T')}Z`);
}

/**
 * Splits [from, to) into consecutive windows of at most `maxMs` (default three days) whose wall times in
 * `zone` are also at most `maxMs` apart (a window across a DST change is shortened). Each window starts where
 * the previous one ended (CC-FS does not say whether the bounds are inclusive: a call on a boundary may be
 * listed twice, and its key makes it one download). Throws `E_USAGE` when `to` is not after `from`.
 */
export function billWindows(from: Date, to: Date, zone: string, maxMs = MAX_BILL_WINDOW_MS): BillWindow[] {
  if (!(to.getTime() > from.getTime())) throw new RecpullError('E_USAGE', '--to must be after --from');
  const out: BillWindow[] = [];
  for (let start = from.getTime(); start < to.getTime();) {
    let end = Math.min(start + maxMs, to.getTime());
    const beginTime = tenantTime(new Date(start), zone);
    let endTime = tenantTime(new Date(end), zone);
    const excess = wallDistance(beginTime, endTime) - maxMs;
    if (excess > 0) {
      end -= excess;
      endTime = tenantTime(new Date(end), zone);
    }
    out.push({ beginTime, endTime });
    start = end;
  }
  return out;
}
