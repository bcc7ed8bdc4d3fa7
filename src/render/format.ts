/** Small text helpers shared by the renderers. */

/** `1234567` → `1.2 MB` (decimal units, as download tools print). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** `83_000` ms → `1m23s`; under a minute `12.3s`. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/** The one-line summary of counts. */
export function summaryLine(
  c: { done: number; skipped: number; failed: number; bytes: number },
  ms: number,
): string {
  const rate = ms > 0 ? ` (${formatBytes(Math.round((c.bytes * 1000) / ms))}/s)` : '';
  return `${c.done} done, ${c.skipped} skipped, ${c.failed} failed, ${formatBytes(c.bytes)} in ${formatDuration(ms)}${rate}`;
}
