/**
 * The one error type of recpull. Every failure that crosses a module boundary is a `RecpullError` with a
 * stable string `code`, whether it is worth retrying, and — when a vendor said so — the vendor's own code
 * (`CMN-301`, `0300011`, `104-005`) and the recording key it concerns.
 *
 * Messages never carry secrets: callers pass values through `redact()` (src/core/redact.ts) first.
 */

/** Stable error codes. Scripts may match on these; never rename one. */
export type ErrorCode =
  | 'E_USAGE' // bad flags or arguments
  | 'E_CONFIG' // config file missing, malformed, or failing validation
  | 'E_INPUT' // an input row (CSV/TSV/NDJSON) that cannot be read
  | 'E_AUTH' // credentials refused, or an auth scheme recpull cannot speak
  | 'E_PERMISSION' // authenticated, but not allowed
  | 'E_RATE_LIMIT' // 429 or a vendor "flow control" answer
  | 'E_NOT_FOUND' // the recording does not exist
  | 'E_NOT_READY' // the recording exists but cannot be fetched yet
  | 'E_TOKEN_EXPIRED' // a short-lived download token expired or was refused
  | 'E_BAD_AUDIO' // the body is not audio (an error page), or not the audio it claims to be
  | 'E_TRUNCATED' // fewer bytes than the body or the audio header declared
  | 'E_TOO_LARGE' // the body grew past --max-size
  | 'E_HTTP' // an unexpected HTTP status
  | 'E_NETWORK' // connection refused/reset, DNS, TLS
  | 'E_TIMEOUT' // no response or no body progress within --timeout
  | 'E_PROTOCOL' // the vendor answered something recpull cannot interpret
  | 'E_TEMPLATE' // the output template names a field the recording does not have
  | 'E_IO' // a local file system failure
  | 'E_NO_SPACE' // the output folder's disk (or quota) is full: stops the run
  | 'E_LOCKED' // another run holds the output folder's lock
  | 'E_ABORTED' // interrupted (Ctrl-C)
  | 'E_INTERNAL'; // a bug in recpull: an error nothing expected

/** What a RecpullError carries besides its code and message. */
export interface RecpullErrorOptions {
  /** Retry this item (network, 5xx, 429, flow control, not-ready, expired token). Default false. */
  retryable?: boolean;
  /** The vendor's own error code, as sent (e.g. `CMN-301`, `0300011`, `104-005`). */
  vendorCode?: string;
  /** The recording key this error concerns. */
  key?: string;
  /** HTTP status, when the error came from a response. */
  status?: number;
  /** Server-requested wait before the next attempt, in ms (from `Retry-After`). */
  retryAfterMs?: number;
  /** Underlying cause (kept off log lines unless `--verbose`; must not hold secrets). */
  cause?: unknown;
}

/** Base class of every recpull error. `code` is stable, `retryable` drives the queue. */
export class RecpullError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly vendorCode: string | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  key: string | undefined;

  constructor(code: ErrorCode, message: string, options: RecpullErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RecpullError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.vendorCode = options.vendorCode;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.key = options.key;
  }

  /** A plain object for the manifest and NDJSON events: `{code, message, vendorCode?, status?}`. */
  toJSON(): { code: ErrorCode; message: string; vendorCode?: string; status?: number } {
    const out: { code: ErrorCode; message: string; vendorCode?: string; status?: number } = {
      code: this.code,
      message: this.message,
    };
    if (this.vendorCode !== undefined) out.vendorCode = this.vendorCode;
    if (this.status !== undefined) out.status = this.status;
    return out;
  }
}

/** True when `err` is a RecpullError (optionally with the given code). */
export function isRecpullError(err: unknown, code?: ErrorCode): err is RecpullError {
  return err instanceof RecpullError && (code === undefined || err.code === code);
}

/**
 * Exit codes (DESIGN.md "Contracts"): 0 all done or skipped; 1 some item failed; 2 usage, config or input
 * error (nothing attempted); 3 authentication or permission failure; 4 another run holds the lock;
 * 128 + the signal's number when a signal stopped the run: 129 SIGHUP, 130 interrupted (Ctrl-C, SIGINT),
 * 143 terminated (SIGTERM).
 */
export const EXIT = {
  OK: 0,
  ITEM_FAILED: 1,
  USAGE: 2,
  AUTH: 3,
  LOCKED: 4,
  HANGUP: 129,
  INTERRUPTED: 130,
  TERMINATED: 143,
} as const;

/** The signals that stop a run cleanly, with their exit codes (128 + the signal's number). */
export const STOP_SIGNALS = {
  SIGHUP: EXIT.HANGUP,
  SIGINT: EXIT.INTERRUPTED,
  SIGTERM: EXIT.TERMINATED,
} as const;

/** A signal that stops a run cleanly. */
export type StopSignal = keyof typeof STOP_SIGNALS;

/**
 * The abort reason of a run stopped by a signal (the CLI aborts the run's signal with it). Any other abort
 * reason that is a `RecpullError` stops the run as that run-level error (e.g. an uncaught error).
 */
export class Interrupt extends Error {
  constructor(readonly signal: StopSignal) {
    super(`interrupted by ${signal}`);
    this.name = 'Interrupt';
  }

  /** 129, 130 or 143. */
  get exitCode(): number {
    return STOP_SIGNALS[this.signal];
  }
}

/** The exit code a run-level (not item-level) error maps to. */
export function exitCodeFor(err: unknown): number {
  if (!(err instanceof RecpullError)) return EXIT.ITEM_FAILED;
  switch (err.code) {
    case 'E_USAGE':
    case 'E_CONFIG':
    case 'E_INPUT':
    case 'E_TEMPLATE':
      return EXIT.USAGE;
    case 'E_AUTH':
    case 'E_PERMISSION':
      return EXIT.AUTH;
    case 'E_LOCKED':
      return EXIT.LOCKED;
    case 'E_ABORTED':
      return EXIT.INTERRUPTED;
    default:
      return EXIT.ITEM_FAILED;
  }
}

/** Wraps anything thrown into a RecpullError, keeping an existing one as is. */
export function toRecpullError(err: unknown, fallback: ErrorCode = 'E_IO'): RecpullError {
  if (err instanceof RecpullError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RecpullError(fallback, message, { cause: err });
}
