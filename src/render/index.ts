/**
 * Renderers: one event stream, three outputs. `--json` → NDJSON on stdout; a TTY on stderr → a progress
 * bar; otherwise plain lines (one per finished item, a summary every 10 s: nothing that floods cron mail).
 * Every renderer implements `EventHandlers`, so a new event type is a compile error until handled.
 */
import { dispatch, type EventHandlers, type EventSink } from '../core/events.js';
import { redact } from '../core/redact.js';
import { jsonHandlers } from './json.js';
import { plainHandlers } from './plain.js';
import { progressHandlers } from './progress.js';

/** Output settings from the shared flags. */
export interface RenderOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  /** `--no-progress` sets this to false. */
  progress: boolean;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** A renderer: an event sink plus `stop()` to flush timers and bars. */
export interface Renderer {
  emit: EventSink;
  stop(): void;
}

/** Picks the renderer for the options and the terminal. */
export function createRenderer(opts: RenderOptions): Renderer {
  let handlers: EventHandlers & { stop?: () => void };
  if (opts.json) handlers = jsonHandlers((line) => opts.stdout.write(`${redact(line)}\n`));
  else if (opts.progress && opts.stderr.isTTY && !opts.quiet) handlers = progressHandlers(opts);
  else handlers = plainHandlers(opts, (line) => opts.stderr.write(`${redact(line)}\n`));
  return {
    emit: (event) => dispatch(handlers, event),
    stop: () => handlers.stop?.(),
  };
}
