/**
 * Plain lines for a non-TTY stderr (cron, CI, pipes): one line per finished or failed item, a summary line
 * at most every 10 s, and the final summary. `--quiet` keeps only failures, warnings and the final summary;
 * `--verbose` adds retries and attempts.
 */
import { type EventHandlers, emptyCounts } from '../core/events.js';
import { escapeControls, formatBytes, formatDuration, summaryLine } from './format.js';
import type { RenderOptions } from './index.js';

const SUMMARY_EVERY_MS = 10_000;

/**
 * Handlers for plain lines through `write` (one call per line, without its newline), plus `stop()`.
 * Control and bidi characters of values are escaped (`escapeControls`): each call is exactly one line.
 */
export function plainHandlers(
  opts: Pick<RenderOptions, 'quiet' | 'verbose'>,
  writeLine: (line: string) => void,
): EventHandlers & { stop: () => void } {
  const write = (line: string) => writeLine(escapeControls(line));
  const counts = emptyCounts();
  let started = Date.now();
  let dryRun = false;
  let lastSummary = Date.now();
  let skippedQuietly = 0;
  const maybeSummary = () => {
    if (opts.quiet) return;
    const t = Date.now();
    if (t - lastSummary >= SUMMARY_EVERY_MS) {
      lastSummary = t;
      write(`progress: ${summaryLine(counts, t - started, dryRun)}`);
    }
  };
  return {
    'run-start': (e) => {
      started = Date.parse(e.at);
      dryRun = e.dryRun;
      if (!opts.quiet)
        write(
          `recpull ${e.vendor} (profile ${e.profile}) → ${e.out}, ${e.concurrency} at a time${e.dryRun ? ', dry run' : ''}`,
        );
    },
    'item-start': (e) => {
      if (opts.verbose && e.attempt > 1) write(`attempt ${e.attempt}: ${e.key}`);
    },
    'item-progress': () => maybeSummary(),
    'item-done': (e) => {
      counts.done++;
      const bytes = e.files.reduce((n, f) => n + f.bytes, 0);
      counts.bytes += bytes;
      if (!opts.quiet) {
        const tries = e.attempts > 1 ? `, ${e.attempts} attempts` : '';
        write(`done ${e.files[0]?.path ?? e.key} (${formatBytes(bytes)}${tries})`);
      }
      maybeSummary();
    },
    'item-skipped': (e) => {
      if (e.reason === 'dry-run') {
        counts.wouldFetch++;
        write(`would fetch ${e.key}`);
      } else {
        counts.skipped++;
        if (opts.verbose) write(`skip ${e.key} (already done)`);
        else skippedQuietly++;
      }
      maybeSummary();
    },
    'item-retry': (e) => {
      if (opts.verbose)
        write(`retry ${e.key} in ${formatDuration(e.delayMs)}: ${e.error.code} ${e.error.message}`);
    },
    'item-failed': (e) => {
      counts.failed++;
      const vendor = e.error.vendorCode ? ` [${e.error.vendorCode}]` : '';
      write(
        `FAILED ${e.key}: ${e.error.code}${vendor} ${e.error.message}${e.attempts > 1 ? ` (after ${e.attempts} attempts)` : ''}`,
      );
      maybeSummary();
    },
    'rate-limit-wait': (e) => {
      if (!opts.quiet || e.waitMs >= 10_000)
        write(
          `waiting ${formatDuration(e.waitMs)} for the ${e.group} rate limit${e.reason === 'penalty' ? ' (429 penalty)' : ''}`,
        );
    },
    notice: (e) => {
      if (e.level === 'warn' || !opts.quiet) write(`${e.level === 'warn' ? 'warning: ' : ''}${e.message}`);
    },
    'run-end': (e) => {
      if (skippedQuietly > 0 && !opts.quiet) write(`${skippedQuietly} already downloaded (skipped)`);
      write(`${e.interrupted ? 'interrupted: ' : ''}${summaryLine(e.counts, e.ms, dryRun)}`);
    },
    stop: () => {},
  };
}
