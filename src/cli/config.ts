/** `recpull config check`: the resolved profile with every secret redacted. */
import { Command } from 'commander';
import { describeProfile, loadConfig, resolveProfile } from '../config/index.js';
import { RecpullError } from '../core/errors.js';
import { addProfileOptions, type CliContext } from './common.js';

const VENDORS = ['timplus', 'ringcentral'] as const;

/** `recpull config check [vendor]`: validates a profile and prints it with secrets redacted; exit 0 or 2. */
export function configCommand(ctx: CliContext): Command {
  const config = new Command('config').description('inspect the configuration');
  const check = new Command('check')
    .description('load the config file, validate a profile and print it with secrets redacted')
    .argument('[vendor]', `vendor section: ${VENDORS.join(', ')} (default: every section present)`)
    .addHelpText(
      'after',
      '\nExamples:\n  recpull config check\n  recpull config check timplus --profile site-b --config ./recpull.config.yaml',
    );
  addProfileOptions(check);
  check.action(async (vendor: string | undefined, flags: { config?: string; profile: string }) => {
    const loaded = await loadConfig(flags.config ? { configPath: flags.config } : {});
    if (vendor !== undefined && !(VENDORS as readonly string[]).includes(vendor)) {
      throw new RecpullError('E_USAGE', `unknown vendor "${vendor}"; expected one of ${VENDORS.join(', ')}`);
    }
    const raw = (loaded.raw ?? {}) as Record<string, unknown>;
    const vendors = vendor ? [vendor] : VENDORS.filter((v) => raw[v] !== undefined);
    process.stdout.write(`# ${loaded.filepath}\n`);
    for (const v of vendors) {
      const resolved = await resolveProfile(loaded, v as (typeof VENDORS)[number], flags.profile);
      for (const w of resolved.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(`${describeProfile(resolved)}\n`);
    }
    ctx.exitCode = 0;
  });
  config.addCommand(check);
  return config;
}
