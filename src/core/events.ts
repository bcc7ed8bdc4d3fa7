/**
 * The event union every part of a run emits. Renderers (src/render) turn the same stream into a progress
 * bar, plain lines or NDJSON; `EventHandlers` makes a missing case a compile error.
 */
import type { ErrorCode } from './errors.js';

/** A serialisable error as it appears in events and the manifest. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  vendorCode?: string;
  status?: number;
}

/**
 * Counts at the end of a run. `skipped`: items the manifest says are done (their files present);
 * `wouldFetch`: in a dry run, items that a real run would fetch (0 otherwise); `bytes` is the sum of bytes
 * written by this run. `done + skipped + failed + wouldFetch` is the number of distinct items listed.
 */
export interface RunCounts {
  done: number;
  skipped: number;
  failed: number;
  wouldFetch: number;
  bytes: number;
}

/** Every event of a run, tagged by `type`. Times (`at`) are ISO-8601; `ms`, `delayMs`, `waitMs` are milliseconds; `bytes` are bytes. */
export type RunEvent =
  | {
      type: 'run-start';
      at: string;
      vendor: string;
      profile: string;
      out: string;
      concurrency: number;
      dryRun: boolean;
    }
  | { type: 'item-start'; at: string; key: string; attempt: number }
  | {
      type: 'item-progress';
      at: string;
      key: string;
      /** Bytes written so far for this item (this attempt, including resumed bytes). */
      bytes: number;
      /** Expected total in bytes, when the server said. */
      total?: number;
    }
  | {
      type: 'item-done';
      at: string;
      key: string;
      files: { path: string; bytes: number; sha256: string; contentType: string }[];
      attempts: number;
      ms: number;
      dryRun?: boolean;
    }
  | { type: 'item-skipped'; at: string; key: string; reason: 'done' | 'dry-run' }
  | {
      type: 'item-retry';
      at: string;
      key: string;
      attempt: number;
      /** Wait before the next attempt, ms. */
      delayMs: number;
      error: ErrorInfo;
    }
  | { type: 'item-failed'; at: string; key: string; attempts: number; error: ErrorInfo; line?: number }
  | {
      type: 'rate-limit-wait';
      at: string;
      /** The rate-limit group (e.g. `Heavy`). */
      group: string;
      /** How long every worker of the group waits, ms. */
      waitMs: number;
      reason: 'budget' | 'penalty';
    }
  | { type: 'notice'; at: string; level: 'info' | 'warn'; message: string }
  | {
      type: 'run-end';
      at: string;
      counts: RunCounts;
      ms: number;
      exitCode: number;
      interrupted: boolean;
      out: string;
      /**
       * The run-level error that ended the run (credentials refused, the folder locked by another run, a
       * config or input error...), as its exit code says; absent when none did.
       */
      error?: ErrorInfo;
    };

/** Counts of a run that has counted nothing yet. */
export function emptyCounts(): RunCounts {
  return { done: 0, skipped: 0, failed: 0, wouldFetch: 0, bytes: 0 };
}

export type RunEventType = RunEvent['type'];

/** One handler per event type; used by every renderer so a new type cannot be forgotten. */
export type EventHandlers = { [T in RunEventType]: (event: Extract<RunEvent, { type: T }>) => void };

/** Something that receives events. */
export type EventSink = (event: RunEvent) => void;

/** Dispatches an event to the handler of its type. */
export function dispatch(handlers: EventHandlers, event: RunEvent): void {
  (handlers[event.type] as (e: RunEvent) => void)(event);
}

let lastMs = 0;
let lastIso = '';

/**
 * The current time as an ISO-8601 string (events carry `at`). One string per millisecond: a skip pass
 * emits thousands of events within one, and formatting a Date for each showed in its profile.
 */
export function now(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
