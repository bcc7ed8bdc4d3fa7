/**
 * The options every vendor subcommand shares, and the code that turns them into a run: load the profile,
 * build the renderer, run the engine, print where things are. Commands return an exit code; only
 * src/cli/main.ts exits the process.
 */
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { RecpullError } from '../core/errors.js';
import { now } from '../core/events.js';
import type { HttpOptions } from '../core/http.js';
import { runDownloads } from '../core/run.js';
import type { Source } from '../core/source.js';
import { createRenderer } from '../render/index.js';

/** Shared by the commands of one invocation: the exit code the entry point will use. */
export interface CliContext {
  exitCode: number;
}

/** The parsed shared options (commander camel-cases the flags). */
export interface CommonFlags {
  config?: string;
  profile: string;
  out?: string;
  concurrency?: number;
  template?: string;
  input?: string;
  dryRun?: boolean;
  json?: boolean;
  retries?: number;
  timeout?: number;
  force?: boolean;
  metadata?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  progress: boolean;
}

/** Parses a whole number within [min, max] for commander; throws InvalidArgumentError. */
export function intIn(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim()))
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
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

/** Adds the shared download options to a vendor subcommand. */
export function addCommonOptions(cmd: Command): Command {
  return addProfileOptions(cmd)
    .option('-o, --out <dir>', "output folder (default: ./recordings, or the profile's `out`)")
    .option('-j, --concurrency <n>', 'downloads at a time (default 4)', intIn(1, 64))
    .option(
      '--template <template>',
      'output path below --out with {field} placeholders (the fields are listed below)',
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
    .option('--force', 'download again what the manifest says is done')
    .option('--metadata', "write a JSON sidecar with the recording's metadata beside each file")
    .option('-q, --quiet', 'only failures, warnings and the final summary')
    .option('-v, --verbose', 'also retries and attempts')
    .addOption(new Option('--no-progress', 'plain lines instead of the progress bar'));
}

/** HTTP settings from flags and profile. */
export function httpOptions(
  flags: CommonFlags,
  profile: { timeout?: number; tls?: { caFile?: string; insecure?: boolean } },
): HttpOptions {
  const timeoutS = flags.timeout ?? profile.timeout ?? 60;
  return {
    timeoutMs: timeoutS * 1000,
    ...(profile.tls?.caFile ? { caFile: profile.tls.caFile } : {}),
    ...(profile.tls?.insecure ? { insecure: true } : {}),
    userAgent: 'recpull/0.1',
  };
}

/** What `runSource` needs besides the source. */
export interface RunContext {
  flags: CommonFlags;
  profile: { out?: string; concurrency?: number; template?: string; retries?: number };
  profileName: string;
  warnings: string[];
  /** Extra run options from the vendor (not-ready wait...). */
  extra?: { notReadyWaitMs?: number; allowExtraFields?: boolean };
  /** Cleanup after the run (close HTTP pools). */
  cleanup?: () => Promise<void>;
}

/**
 * Runs a source with the shared flags and returns the exit code. Ctrl-C aborts in-flight items,
 * removes their `.part` files and returns 130 after printing how to resume.
 */
export async function runSource(source: Source, ctx: RunContext): Promise<number> {
  const { flags, profile } = ctx;
  const renderer = createRenderer({
    json: flags.json === true,
    quiet: flags.quiet === true,
    verbose: flags.verbose === true,
    progress: flags.progress !== false,
    stdout: process.stdout,
    stderr: process.stderr,
  });
  for (const w of ctx.warnings) renderer.emit({ type: 'notice', at: now(), level: 'warn', message: w });
  const out = resolve(flags.out ?? profile.out ?? './recordings');
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const result = await runDownloads(source, {
      out,
      profile: ctx.profileName,
      concurrency: flags.concurrency ?? profile.concurrency ?? 4,
      ...((flags.template ?? profile.template)
        ? { template: (flags.template ?? profile.template) as string }
        : {}),
      retries: flags.retries ?? profile.retries ?? 5,
      force: flags.force === true,
      dryRun: flags.dryRun === true,
      metadata: flags.metadata === true,
      signal: abort.signal,
      emit: renderer.emit,
      allowExtraFields: flags.input !== undefined || ctx.extra?.allowExtraFields === true,
      ...(ctx.extra?.notReadyWaitMs !== undefined ? { notReadyWaitMs: ctx.extra.notReadyWaitMs } : {}),
      ...(process.env.RECPULL_RETRY_BASE_MS
        ? { retryBaseMs: Number(process.env.RECPULL_RETRY_BASE_MS) }
        : {}),
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
    renderer.stop();
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await ctx.cleanup?.();
  }
}

/** Throws E_USAGE unless exactly one way of choosing recordings was given. */
export function requireOneSelection(choices: Record<string, boolean>): void {
  const given = Object.entries(choices).filter(([, v]) => v);
  if (given.length === 1) return;
  const names = Object.keys(choices).join(', or ');
  throw new RecpullError(
    'E_USAGE',
    given.length === 0
      ? `say what to fetch: ${names}`
      : `choose one of ${given.map(([k]) => k).join(' and ')}`,
  );
}
