/** `recpull config check`: the resolved profile with every secret redacted. */
import { Command } from 'commander';
import { describeProfile, loadConfig, resolveProfile } from '../config/index.js';
import { RecpullError } from '../core/errors.js';
import { shortSecretWarnings } from '../core/redact.js';
import type { VendorEntry } from '../vendors/index.js';
import { addProfileOptions, type CliContext } from './common.js';

/** `recpull config check [vendor]`: validates a profile and prints it with secrets redacted; exit 0 or 2. */
export function configCommand(ctx: CliContext, registry: readonly VendorEntry[]): Command {
  const names = registry.map((v) => v.name);
  const config = new Command('config').description('inspect the configuration');
  const check = new Command('check')
    .description('load the config file, validate a profile and print it with secrets redacted')
    .argument('[vendor]', `vendor section: ${names.join(', ')} (default: every section present)`)
    .addHelpText(
      'after',
      '\nExamples:\n  recpull config check\n  recpull config check timplus --profile site-b --config ./recpull.config.yaml',
    );
  addProfileOptions(check);
  check.action(async (vendor: string | undefined, flags: { config?: string; profile: string }) => {
    const loaded = await loadConfig({
      ...(flags.config ? { configPath: flags.config } : {}),
      vendors: ctx.vendors,
    });
    if (vendor !== undefined && !names.includes(vendor)) {
      throw new RecpullError('E_USAGE', `unknown vendor "${vendor}"; expected one of ${names.join(', ')}`);
    }
    const raw = (loaded.raw ?? {}) as Record<string, unknown>;
    const entries = registry.filter((v) => (vendor ? v.name === vendor : raw[v.name] !== undefined));
    // each profile's block starts with the file's `# <path>` line (describeProfile)
    for (const entry of entries) {
      const resolved = await resolveProfile(loaded, await entry.load(), flags.profile);
      for (const w of [...resolved.warnings, ...shortSecretWarnings()])
        process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(`${describeProfile(resolved)}\n`);
    }
    ctx.exitCode = 0;
  });
  config.addCommand(check);
  return config;
}
