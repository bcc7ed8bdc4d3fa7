/**
 * One subcommand per registered vendor, built from its definition (src/vendors/definition.ts): its own
 * options, then the shared ones, help with the template fields and examples, and the action that loads the
 * profile, lets the vendor build its run, and runs it. Nothing here names a vendor.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { loadConfig, resolveProfile } from '../config/index.js';
import { HttpClient } from '../core/http.js';
import { shortSecretWarnings } from '../core/redact.js';
import type {
  CommonFlags,
  CommonProfile,
  VendorCommandHelpers,
  VendorDefinition,
} from '../vendors/definition.js';
import type { VendorEntry } from '../vendors/index.js';
import { redactEvent } from '../render/index.js';
import {
  addCommonOptions,
  addProfileOptions,
  type CliContext,
  httpOptions,
  runEndOfError,
  runSource,
} from './common.js';

/** `{vendor} {ext} {key}` and the vendor's fields, as the help shows them. */
export function templateFieldsHelp(def: Pick<VendorDefinition, 'fields'>): string {
  return ['vendor', ...def.fields, 'ext', 'key'].map((f) => `{${f}}`).join(' ');
}

/** The subcommand of `entry`, complete (its definition loaded). */
export function vendorCommand(ctx: CliContext, entry: VendorEntry, def: VendorDefinition): Command {
  const cmd = new Command(entry.name).description(entry.summary);
  def.options(cmd);
  addCommonOptions(cmd, def.defaultConcurrency ?? 4);
  cmd.addHelpText(
    'after',
    `
${def.help}
Template fields: ${wrap(templateFieldsHelp(def), 100)}, and the input list's other columns.

Examples:
${def.examples.map((e) => `  ${e.startsWith('mysql') || e.startsWith('cat') ? e : `recpull ${e}`}`).join('\n')}`,
  );
  cmd.action((flags: CommonFlags & Record<string, unknown>) => runVendor(ctx, def, flags));
  for (const sub of def.subcommands?.(helpersFor(ctx, def)) ?? []) cmd.addCommand(sub);
  return cmd;
}

/**
 * The vendor's main action: loads the profile, lets the vendor build its run, runs it and sets the exit code.
 * `flags` are the parsed flags of the vendor's subcommand (a subcommand may add its own, see `runMain`).
 * An error before the run begins (config, profile, the vendor's set-up) is rethrown for `main` to report;
 * with `--json` a `run-end` carrying it is written first, since `--json` promises one as the last line.
 */
async function runVendor(
  ctx: CliContext,
  def: VendorDefinition,
  flags: CommonFlags & Record<string, unknown>,
): Promise<void> {
  const progress: VendorRunProgress = { running: false };
  try {
    await loadAndRunVendor(ctx, def, flags, progress);
  } catch (err) {
    if (flags.json && !progress.running) {
      const out = resolve(flags.out ?? progress.settings?.out ?? './recordings');
      process.stdout.write(`${JSON.stringify(redactEvent(runEndOfError(err, out)))}\n`);
    }
    throw err;
  }
}

/** How far `loadAndRunVendor` got: the profile's settings once loaded; `running` once `runSource` took over. */
interface VendorRunProgress {
  settings?: CommonProfile;
  running: boolean;
}

/** `runVendor`'s work, recording its progress in `progress`. */
async function loadAndRunVendor(
  ctx: CliContext,
  def: VendorDefinition,
  flags: CommonFlags & Record<string, unknown>,
  progress: VendorRunProgress,
): Promise<void> {
  const loaded = await loadConfig({
    ...(flags.config ? { configPath: flags.config } : {}),
    vendors: ctx.vendors,
  });
  const resolved = await resolveProfile<CommonProfile>(loaded, def, flags.profile);
  const settings = resolved.settings;
  progress.settings = settings;
  const http = new HttpClient(httpOptions(flags, settings, def.defaultConcurrency));
  try {
    const built = await def.build({
      flags,
      settings,
      profile: resolved.profile,
      configFile: resolved.filepath,
      out: resolve(flags.out ?? settings.out ?? './recordings'),
      http,
      retries: flags.retries ?? settings.retries ?? 5,
      retryBaseMs: (settings.retryBase ?? 1) * 1000,
    });
    progress.running = true; // from here runSource writes the run-end, whatever happens
    ctx.exitCode = await runSource(built.source, {
      cli: ctx,
      flags,
      profile: settings,
      profileName: resolved.profile,
      warnings: [...resolved.warnings, ...shortSecretWarnings()],
      ...(def.defaultConcurrency ? { defaultConcurrency: def.defaultConcurrency } : {}),
      ...(built.notices ? { notices: built.notices } : {}),
      extra: {
        ...(built.notReadyWaitMs !== undefined ? { notReadyWaitMs: built.notReadyWaitMs } : {}),
        ...(built.allowExtraFields ? { allowExtraFields: true } : {}),
      },
      cleanup: async () => {
        await built.cleanup?.();
      },
    });
  } finally {
    await http.close();
  }
}

/** What a vendor's extra subcommands may use. */
function helpersFor(ctx: CliContext, def: VendorDefinition): VendorCommandHelpers {
  return {
    addProfileOptions,
    async loadProfile<P extends CommonProfile>(flags: { config?: string; profile: string }) {
      const loaded = await loadConfig({
        ...(flags.config ? { configPath: flags.config } : {}),
        vendors: ctx.vendors,
      });
      const r = await resolveProfile<P>(loaded, def, flags.profile);
      return { settings: r.settings, profile: r.profile, configFile: r.filepath, warnings: r.warnings };
    },
    setExitCode(code: number) {
      ctx.exitCode = code;
    },
    runMain: (flags) => runVendor(ctx, def, flags),
    http(settings: CommonProfile) {
      // No --timeout flag here: the profile's timeout (default 60 s) is the only one.
      return new HttpClient(httpOptions({ profile: '', progress: false }, settings));
    },
  };
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join('\n');
}
