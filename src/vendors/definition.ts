/**
 * What a vendor gives the registry (src/vendors/index.ts): everything `src/cli`, `src/config`, `recpull
 * sandbox`, `recpull demo` and the conformance suite need to know about it, so that adding a vendor touches
 * its own folder, its emulator and one line of the registry. See src/vendors/README.md.
 */
import type { Command } from 'commander';
import type { z } from 'zod';
import type { HttpClient } from '../core/http.js';
import type { Source } from '../core/source.js';

/** The options every vendor subcommand shares (commander camel-cases the flags). */
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
  /** `--timeout`, seconds. */
  timeout?: number;
  force?: boolean;
  metadata?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  progress: boolean;
  /** `--max-size`, bytes. */
  maxSize?: number;
  /** `--attempt-timeout`, ms. */
  attemptTimeout?: number;
}

/** Keys every profile of every vendor may set (validated by src/config/schema.ts `commonKeys`). */
export interface CommonProfile {
  /** Output folder (`~` expanded; relative to the working directory). */
  out?: string;
  /** Downloads in flight at once, 1..64. */
  concurrency?: number;
  /** Output path template (src/core/template.ts). */
  template?: string;
  /** Retries per item after the first attempt, 0..20. */
  retries?: number;
  /** Base of the backoff between retries, seconds (default 1). */
  retryBase?: number;
  /** Request / body-progress timeout, seconds (> 0). */
  timeout?: number;
  /** `User-Agent` header to send instead of recpull's own. */
  userAgent?: string;
  tls?: { caFile?: string; insecure?: boolean };
}

/** What a vendor's `build` gets: the parsed flags and the resolved profile. */
export interface BuildInput<P extends CommonProfile = CommonProfile, F = Record<string, unknown>> {
  flags: CommonFlags & F;
  settings: P;
  /** Profile name and the config file it came from (for error messages). */
  profile: string;
  configFile: string;
  /** The output folder, absolute. */
  out: string;
  /** HTTP client built from `--timeout` and the profile's `timeout`/`tls`/`userAgent`; closed after the run. */
  http: HttpClient;
  /** Retries of a failed request and the backoff base, ms (from `--retries`, `retries`, `retryBase`). */
  retries: number;
  retryBaseMs: number;
}

/** A run a vendor built: its source, plus what the engine should do differently for it. */
export interface BuiltRun {
  source: Source;
  /** `E_NOT_READY` is retried for this long, ms (RingCentral, Noojee `--not-ready-wait`). */
  notReadyWaitMs?: number;
  /** The selection adds template fields beyond `Source.fields` (input lists, listings). */
  allowExtraFields?: boolean;
  /** Notices printed before the run (e.g. "the agent is set busy"). */
  notices?: string[];
  /** Called after the engine finished (close pools of the vendor's own). */
  cleanup?: () => Promise<void>;
}

/** Options of an emulator started for `recpull sandbox`, `recpull demo` or the conformance suite. Sizes in bytes. */
export interface EmulatorOptions {
  recordings: number;
  minBytes: number;
  maxBytes: number;
  /** Share of bodies reset mid-way (once per recording), 0..1. */
  resetRate: number;
  /** Body throughput cap, bytes per second (slow bodies, to interrupt a run). */
  bytesPerSecond?: number;
  /** A folder the emulator may write its lists into. */
  dir: string;
  /** Fixed first port (`recpull sandbox --port`); absent: free ports. */
  port?: number;
  seed?: number;
}

/** A running emulator and how to pull its whole catalogue. */
export interface RunningEmulator {
  /** The profile that points at it (values may use `${ENV:-default}`). */
  profile: Record<string, unknown>;
  /** The same profile with a wrong secret (the conformance suite's "wrong credential" case). */
  wrongProfile: Record<string, unknown>;
  /** Arguments of a run that fetches every recording of the catalogue (e.g. `-i <list>`). */
  args: string[];
  /** Lines describing what runs where (shown by `recpull sandbox` and `recpull demo`). */
  banner: string[];
  /** The bytes a recording of key `key` must have, to compare downloads with. */
  contentFor(key: string): Buffer | undefined;
  /** How many requests for a recording (its content, or a token for it) the emulator has answered so far. */
  fetchRequests(): number;
  /** Sessions still open (signed in, tokens not revoked); undefined when the vendor has none. */
  openSessions?(): number;
  close(): Promise<void>;
}

/** One vendor, as the registry knows it. `P` is its resolved profile, `F` its own flags. */
export interface VendorDefinition<P extends CommonProfile = CommonProfile, F = Record<string, unknown>> {
  /** Subcommand, config section and `{vendor}` in keys and templates (`timplus`, `cc-gateway`). */
  name: string;
  /** The profile schema (zod, strict), built with src/config/schema.ts `profileSchema`. */
  profileSchema: z.ZodType<unknown>;
  /** Secret keys of a profile, each with its `<key>File` alternative (`password` → `passwordFile`). */
  secretKeys: readonly string[];
  /** Secret keys a profile may leave out (Noojee's `httpPassword`, `apiKey`). */
  optionalSecretKeys?: readonly string[];
  /** Default `-j` when neither the flag nor the profile says (default 4). */
  defaultConcurrency?: number;
  /** The template fields every ref carries (besides vendor, ext and key), as `Source.fields`. */
  fields: readonly string[];
  /** The default output template, as `Source.defaultTemplate`. */
  defaultTemplate: string;
  /** Adds the vendor's own options to its subcommand (the shared ones are added after). */
  options(cmd: Command): void;
  /** Help text shown after the options: selections, input columns, default file names (no field list). */
  help: string;
  /** Example command lines (without the leading `recpull `). */
  examples: string[];
  /** Builds the run. Throws `E_USAGE` (flags), `E_INPUT` (input file) before anything is fetched. */
  build(input: BuildInput<P, F>): Promise<BuiltRun>;
  /** Further subcommands under the vendor's (`noojee start`), given the shared profile options helper. */
  subcommands?(helpers: VendorCommandHelpers): Command[];
  /** Starts the vendor's loopback emulator (imported lazily: nothing of it loads for a real run). */
  startEmulator(opts: EmulatorOptions): Promise<RunningEmulator>;
}

/** What `subcommands` may use from the CLI without importing it. */
export interface VendorCommandHelpers {
  /** Adds `--config` and `--profile`. */
  addProfileOptions(cmd: Command): Command;
  /** Loads and resolves this vendor's profile. */
  loadProfile<P extends CommonProfile>(flags: {
    config?: string;
    profile: string;
  }): Promise<{
    settings: P;
    profile: string;
    configFile: string;
    warnings: string[];
  }>;
  /** Sets the process's exit code (only src/cli/main.ts exits). */
  setExitCode(code: number): void;
  /**
   * Runs the vendor's main command with `flags` (its parsed flags, plus any the subcommand adds for its
   * `build`), exactly as if the main command had been run: same output, signals, lock and exit code.
   */
  runMain(flags: CommonFlags & Record<string, unknown>): Promise<void>;
  /**
   * An HTTP client built from a resolved profile's `timeout` (seconds, default 60), `tls` and `userAgent`, as
   * vendor runs get theirs (src/cli/common.ts `httpOptions`). The caller closes it (`await http.close()`).
   */
  http(settings: CommonProfile): HttpClient;
}
