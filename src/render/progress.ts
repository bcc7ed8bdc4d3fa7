/**
 * The TTY display: an overall bar (finished / seen so far) with bytes and rate, plus one bar per item in
 * flight. Failures, notices and rate-limit waits are printed above the bars.
 */
import type cliProgressTypes from 'cli-progress';
import { type EventHandlers, emptyCounts } from '../core/events.js';
import { lazyRequire } from '../core/lazy-require.js';
import { escapeControls, formatBytes, formatDuration, summaryLine } from './format.js';
import type { RenderOptions } from './index.js';

/** Loaded on first use: only a terminal shows bars (cron and `--json` runs do not pay its ~10 ms). */
const loadCliProgress = lazyRequire<typeof cliProgressTypes>('cli-progress');

/** Handlers that drive a cli-progress MultiBar on `opts.stderr`, plus `stop()` to restore the terminal. */
export function progressHandlers(
  opts: Pick<RenderOptions, 'verbose' | 'stderr'>,
): EventHandlers & { stop: () => void } {
  const cliProgress = loadCliProgress();
  const multi = new cliProgress.MultiBar(
    {
      stream: opts.stderr,
      format: ' {bar} {label}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      autopadding: true,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  /** Logs one line above the bars, its values' control characters escaped. */
  const log = (line: string) => multi.log(`${escapeControls(line)}\n`);
  let overall: cliProgressTypes.SingleBar | undefined;
  const active = new Map<string, cliProgressTypes.SingleBar>();
  const counts = emptyCounts();
  let seen = 0;
  let dryRun = false;
  let started = Date.now();
  let waitNote = '';
  const label = () => {
    const ms = Date.now() - started;
    const rate = ms > 0 ? `${formatBytes(Math.round((counts.bytes * 1000) / ms))}/s` : '';
    const finished = counts.done + counts.skipped + counts.failed + counts.wouldFetch;
    const fetch = dryRun ? ` · would fetch ${counts.wouldFetch}` : '';
    return `${finished}/${seen} listed · done ${counts.done} · skipped ${counts.skipped}${fetch} · failed ${counts.failed} · ${formatBytes(counts.bytes)}, ${rate}${waitNote}`;
  };
  const refresh = () =>
    overall?.update(counts.done + counts.skipped + counts.failed + counts.wouldFetch, { label: label() });
  const finish = (key: string) => {
    const bar = active.get(key);
    if (bar) {
      multi.remove(bar);
      active.delete(key);
    }
  };
  const short = (rawKey: string) => {
    const key = escapeControls(rawKey);
    return key.length > 48 ? `…${key.slice(-47)}` : key;
  };
  return {
    'run-start': (e) => {
      started = Date.parse(e.at);
      dryRun = e.dryRun;
      log(`recpull ${e.vendor} (profile ${e.profile}) → ${e.out}`);
      overall = multi.create(1, 0, { label: label() });
    },
    'item-start': (e) => {
      if (e.attempt === 1) {
        seen++;
        overall?.setTotal(Math.max(seen, 1));
      }
      if (!active.has(e.key))
        active.set(e.key, multi.create(1, 0, { label: short(e.key) }, { format: '   {bar} {label}' }));
    },
    'item-progress': (e) => {
      const bar = active.get(e.key);
      if (!bar) return;
      bar.setTotal(e.total ?? Math.max(e.bytes, 1));
      bar.update(e.bytes, { label: `${short(e.key)} ${formatBytes(e.bytes)}` });
    },
    'item-done': (e) => {
      counts.done++;
      counts.bytes += e.files.reduce((n, f) => n + f.bytes, 0);
      finish(e.key);
      refresh();
    },
    'item-skipped': (e) => {
      if (e.reason === 'dry-run') counts.wouldFetch++;
      else counts.skipped++;
      seen++;
      overall?.setTotal(Math.max(seen, 1));
      refresh();
    },
    'item-retry': (e) => {
      active.get(e.key)?.update(0, {
        label: `${short(e.key)} retry ${e.attempt + 1} in ${formatDuration(e.delayMs)} (${escapeControls(e.error.code)})`,
      });
      if (opts.verbose)
        log(`retry ${e.key} in ${formatDuration(e.delayMs)}: ${e.error.code} ${e.error.message}`);
    },
    'item-failed': (e) => {
      counts.failed++;
      if (e.attempts === 0) {
        seen++;
        overall?.setTotal(Math.max(seen, 1));
      }
      finish(e.key);
      const vendor = e.error.vendorCode ? ` [${e.error.vendorCode}]` : '';
      log(`FAILED ${e.key}: ${e.error.code}${vendor} ${e.error.message}`);
      refresh();
    },
    'rate-limit-wait': (e) => {
      waitNote = ` · ${escapeControls(e.group)} limit: wait ${formatDuration(e.waitMs)}${e.reason === 'penalty' ? ' (429)' : ''}`;
      const until = Date.now() + e.waitMs;
      setTimeout(() => {
        if (Date.now() >= until) waitNote = '';
        refresh();
      }, e.waitMs).unref();
      refresh();
    },
    notice: (e) => {
      log(`${e.level === 'warn' ? 'warning: ' : ''}${e.message}`);
    },
    'run-end': (e) => {
      refresh();
      multi.update(); // draws the lines logged since the last frame: stop() would drop them
      multi.stop();
      opts.stderr.write(`${e.interrupted ? 'interrupted: ' : ''}${summaryLine(e.counts, e.ms, dryRun)}\n`);
    },
    stop: () => multi.stop(),
  };
}
