/**
 * The options every vendor subcommand shares, and the code that turns them into a run: build the renderer,
 * run the engine under the process's stop signal (src/cli/main.ts aborts it on SIGINT, SIGTERM, SIGHUP or an
 * uncaught error), print where things are. Commands return an exit code; only src/cli/main.ts exits.
 */
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { exitCodeFor, Interrupt, RecpullError, toRecpullError } from '../core/errors.js';
import { emptyCounts, now, type RunCounts, type RunEvent } from '../core/events.js';
import type { HttpOptions } from '../core/http.js';
import { errorInfo } from '../core/queue.js';
import { leftUndoneMessage, runDownloads } from '../core/run.js';
import type { Source } from '../core/source.js';
import { createRenderer } from '../render/index.js';
import type { CommonFlags, CommonProfile } from '../vendors/definition.js';
import { intIn, nonEmpty, parseSize, positiveDuration } from '../vendors/flags.js';

export type { CommonFlags };
export { intIn };

/** Shared by the commands of one invocation and the entry point. */
export interface CliContext {
  /** The exit code the entry point will use. */
  exitCode: number;
  /** The registered vendors' names (the config file's known sections). */
  vendors: readonly string[];
  /**
   * Aborted by the entry point when the process is asked to stop: the reason is an `Interrupt` (a signal)
   * or a `RecpullError` (an uncaught error). Long-running commands stop cleanly on it.
   */
  stop: AbortSignal;
  /** Set by a command while it can stop cleanly; the entry point exits at once when it is not set. */
  stoppable?: boolean;
  /** What a second Ctrl-C would leave undone (said before exiting at once). */
  undone?: () => string;
  /**
   * Set by a command while it can stop cleanly: ends its event stream at once for a second Ctrl-C (the
   * left-undone notice and a `run-end` with the counts so far, `interrupted`, `exitCode`), unless run-end
   * went out already. The lines are written as the process exits.
   */
  abandon?: (exitCode: number) => void;
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

/** Adds `--config` and `--profile` (used by vendor commands and `config check`). */
export function addProfileOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (default: searched, see README)')
    .option('-p, --profile <name>', 'profile within the vendor section', 'default');
}

/** Adds the shared download options to a vendor subcommand; `concurrency` is the vendor's default `-j`. */
export function addCommonOptions(cmd: Command, concurrency = 4): Command {
  return addProfileOptions(cmd)
    .option(
      '-o, --out <dir>',
      "output folder (default: ./recordings, or the profile's `out`)",
      nonEmpty('a folder'),
    )
    .option('-j, --concurrency <n>', `downloads at a time (default ${concurrency})`, intIn(1, 64))
    .option(
      '--template <template>',
      'output path below --out with {field} placeholders (the fields are listed below)',
      nonEmpty('a template'),
    )
    .option(
      '-i, --input <file>',
      'list of recordings: CSV/TSV with a header row, or NDJSON; "-" reads standard input',
    )
    .option('--dry-run', 'list what would be fetched; download nothing, write nothing')
    .option('--json', 'NDJSON events on stdout (the last line is run-end with the counts)')
    .option('--retries <n>', 'retries of a failed download (default 5)', intIn(0, 50))
    .option(
      '--timeout <seconds>',
      'give up on a response after this many seconds without progress (default 60)',
      positiveSeconds,
    )
    .option(
      '--max-size <size>',
      'largest recording accepted; a body growing past it fails (default 2G)',
      parseSize,
    )
    .option(
      '--attempt-timeout <duration>',
      'each attempt may take this long, plus the time its size needs at 64 KiB/s (default 10m)',
      positiveDuration,
    )
    .option('--force', 'download again what the manifest says is done')
    .option('--metadata', "write a JSON sidecar with the recording's metadata beside each file")
    .option('-q, --quiet', 'only failures, warnings and the final summary')
    .option('-v, --verbose', 'also retries and attempts')
    .addOption(new Option('--no-progress', 'plain lines instead of the progress bar'));
}

/**
 * HTTP settings from flags and profile: `--timeout` for each stall, TLS, User-Agent, and as many
 * connections per origin as downloads run at once (`-j`, at least 16 for the vendors' API calls).
 */
export function httpOptions(flags: CommonFlags, profile: CommonProfile, defaultConcurrency = 4): HttpOptions {
  const timeoutS = flags.timeout ?? profile.timeout ?? 60;
  return {
    timeoutMs: timeoutS * 1000,
    connections: Math.max(16, flags.concurrency ?? profile.concurrency ?? defaultConcurrency),
    ...(profile.tls?.caFile ? { caFile: profile.tls.caFile } : {}),
    ...(profile.tls?.insecure ? { insecure: true } : {}),
    userAgent: profile.userAgent ?? 'recpull/0.1',
  };
}

/**
 * The `run-end` of a run that a run-level error ended before the engine wrote its own (`--json` promises
 * one as the last line whatever happens): `counts` so far (none, usually), the exit code `err` maps to
 * (`exitCodeFor`: 2 config or input, 4 locked...), and the error itself, redacted; an interrupt is
 * `interrupted` with its signal's exit code and no `error`, as the engine's own run-end says it. `ms` is
 * the run's time.
 */
export function runEndOfError(
  err: unknown,
  out: string,
  counts: RunCounts = emptyCounts(),
  ms = 0,
): Extract<RunEvent, { type: 'run-end' }> {
  const interrupted = err instanceof Interrupt || (err instanceof RecpullError && err.code === 'E_ABORTED');
  return {
    type: 'run-end',
    at: now(),
    counts,
    ms,
    exitCode: err instanceof Interrupt ? err.exitCode : exitCodeFor(err),
    interrupted,
    out,
    ...(interrupted ? {} : { error: errorInfo(toRecpullError(err, 'E_INTERNAL')) }),
  };
}

/** What `runSource` needs besides the source. */
export interface RunContext {
  cli: CliContext;
  flags: CommonFlags;
  profile: CommonProfile;
  profileName: string;
  warnings: string[];
  /** The vendor's default `-j`. */
  defaultConcurrency?: number;
  /** Extra run options from the vendor (not-ready wait...). */
  extra?: { notReadyWaitMs?: number; allowExtraFields?: boolean };
  /** Notices shown before the run starts. */
  notices?: string[];
  /** Cleanup after the run (close HTTP pools). */
  cleanup?: () => Promise<void>;
}

/**
 * Runs a source with the shared flags and returns the exit code. The process's stop signal interrupts it:
 * in-flight items are aborted and their `.part` files removed, the source is closed, and 130/143/129 is
 * returned after saying how to resume.
 */
export async function runSource(source: Source, ctx: RunContext): Promise<number> {
  const { flags, profile, cli } = ctx;
  const renderer = createRenderer({
    json: flags.json === true,
    quiet: flags.quiet === true,
    verbose: flags.verbose === true,
    progress: flags.progress !== false,
    stdout: process.stdout,
    stderr: process.stderr,
  });
  for (const w of ctx.warnings) renderer.emit({ type: 'notice', at: now(), level: 'warn', message: w });
  for (const n of ctx.notices ?? []) renderer.emit({ type: 'notice', at: now(), level: 'info', message: n });
  const out = resolve(flags.out ?? profile.out ?? './recordings');
  const inFlight = new Set<string>();
  // the run keeps its counts here, so a second Ctrl-C can write a run-end with them at once
  const counts = emptyCounts();
  const started = Date.now();
  let ended = false;
  let closing = false;
  cli.stoppable = true;
  cli.abandon = (exitCode) => {
    if (ended) return;
    ended = true;
    if (inFlight.size > 0)
      renderer.emit({ type: 'notice', at: now(), level: 'warn', message: leftUndoneMessage(inFlight.size) });
    const ms = Date.now() - started;
    renderer.emit({ type: 'run-end', at: now(), counts, ms, exitCode, interrupted: true, out });
    renderer.stop();
  };
  cli.undone = () =>
    `${inFlight.size} recording(s) in flight were left undone (the next run removes their .part files and fetches them)` +
    (closing ? `; ${source.vendor} was still closing its session` : '');
  try {
    const result = await runDownloads(source, {
      out,
      profile: ctx.profileName,
      concurrency: flags.concurrency ?? profile.concurrency ?? ctx.defaultConcurrency ?? 4,
      ...((flags.template ?? profile.template)
        ? { template: (flags.template ?? profile.template) as string }
        : {}),
      retries: flags.retries ?? profile.retries ?? 5,
      retryBaseMs: (profile.retryBase ?? 1) * 1000,
      force: flags.force === true,
      dryRun: flags.dryRun === true,
      metadata: flags.metadata === true,
      ...(flags.maxSize !== undefined ? { maxBytes: flags.maxSize } : {}),
      ...(flags.attemptTimeout !== undefined ? { attemptDeadline: { baseMs: flags.attemptTimeout } } : {}),
      signal: cli.stop,
      counts,
      emit: (event) => {
        if (ended) return; // a second Ctrl-C ended the stream
        if (event.type === 'item-start') inFlight.add(event.key);
        else if (event.type === 'item-done' || event.type === 'item-failed') inFlight.delete(event.key);
        else if (event.type === 'run-end') {
          inFlight.clear();
          ended = true;
        }
        if (cli.stop.aborted) closing = true;
        renderer.emit(event);
      },
      allowExtraFields: flags.input !== undefined || ctx.extra?.allowExtraFields === true,
      outputReady: () => renderer.drained(),
      ...(ctx.extra?.notReadyWaitMs !== undefined ? { notReadyWaitMs: ctx.extra.notReadyWaitMs } : {}),
    });
    renderer.stop();
    if (result.fatal) throw result.fatal;
    if (result.interrupted && !flags.json) {
      process.stderr.write(
        'Interrupted. Run the same command again to resume: finished recordings are skipped.\n',
      );
    } else if (!flags.json && !flags.quiet && !flags.dryRun) {
      process.stderr.write(`Files are in ${out} (manifest: ${out}/.recpull/manifest.jsonl)\n`);
    }
    return result.exitCode;
  } catch (err) {
    // the run stopped before its own run-end (the folder locked or unusable, the input unreadable...)
    if (!ended && flags.json) renderer.emit(runEndOfError(err, out, counts, Date.now() - started));
    renderer.stop();
    throw err;
  } finally {
    cli.stoppable = false;
    cli.abandon = undefined;
    await ctx.cleanup?.();
  }
}
