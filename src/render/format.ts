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

/**
 * The one-line summary of counts (`ms`: the run's duration). A dry run (`dryRun`, or any `wouldFetch`)
 * says how many items would be fetched and that the skipped ones are those already done:
 * `dry run: 12 would be fetched, 3 skipped (already done), 0 failed in 1.2s`.
 */
export function summaryLine(
  c: { done: number; skipped: number; failed: number; bytes: number; wouldFetch?: number },
  ms: number,
  dryRun = false,
): string {
  if (dryRun || (c.wouldFetch ?? 0) > 0) {
    const done = c.done > 0 ? `${c.done} done, ` : '';
    return `dry run: ${c.wouldFetch ?? 0} would be fetched, ${done}${c.skipped} skipped (already done), ${c.failed} failed in ${formatDuration(ms)}`;
  }
  const rate = ms > 0 ? ` (${formatBytes(Math.round((c.bytes * 1000) / ms))}/s)` : '';
  return `${c.done} done, ${c.skipped} skipped, ${c.failed} failed, ${formatBytes(c.bytes)} in ${formatDuration(ms)}${rate}`;
}

/**
 * Characters that must not reach a terminal or a log raw: C0 controls (newline, CR, ESC...), DEL, C1
 * controls, the bidi controls (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069) and the line/paragraph
 * separators U+2028/U+2029. A key or an error message from an input list or a server may hold any of them.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/**
 * `s` with every character of `CONTROLS` shown as an escape: `\n`, `\r`, `\t`, `\xHH` below U+0100,
 * `\uHHHH` above. Applied to every value a renderer or `recpull status` prints, so one value is one piece
 * of one line (a multi-line key cannot fake a summary line, ESC cannot move the cursor).
 */
export function escapeControls(s: string): string {
  return s.replace(CONTROLS, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\r') return '\\r';
    if (ch === '\t') return '\\t';
    const code = ch.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
