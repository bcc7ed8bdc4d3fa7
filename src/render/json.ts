/** `--json`: every event as one JSON line on stdout; the last line is `run-end` with the counts. */
import type { EventHandlers, RunEvent } from '../core/events.js';

/** Handlers that write each event as one JSON line through `write`. */
export function jsonHandlers(write: (line: string) => void): EventHandlers {
  const out = (e: RunEvent) => write(JSON.stringify(e));
  return {
    'run-start': out,
    'item-start': out,
    'item-progress': out,
    'item-done': out,
    'item-skipped': out,
    'item-retry': out,
    'item-failed': out,
    'rate-limit-wait': out,
    notice: out,
    'run-end': out,
  };
}
