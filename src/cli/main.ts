/**
 * The entry point: builds the commander program, runs it, prints run-level errors and exits with the
 * code of DESIGN.md "Contracts" (0 ok, 1 item failed, 2 usage/config/input, 3 auth, 4 locked, 130 interrupted).
 * The only place that calls `process.exit`.
 */
import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeFor, RecpullError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import type { CliContext } from './common.js';
import { configCommand } from './config.js';
import { ringcentralCommand } from './ringcentral.js';
import { demoCommand, sandboxCommand } from './sandbox.js';
import { statusCommand } from './status.js';
import { timplusCommand } from './timplus.js';

/** Builds the program (exported for tests). */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('recpull')
    .description('Bulk-download call recordings, resumably: TIM Plus, RingCentral (more vendors follow).')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  npx recpull demo                         pull recordings from the built-in sandbox
  recpull timplus -i calls.csv -o ./recs   download the recordings listed in calls.csv
  recpull ringcentral --since-last -o ./rc every RingCentral recording since the last run
  recpull status ./recs                    what is done, what failed and why
  recpull config check timplus             show the resolved profile (secrets redacted)

Exit codes: 0 all done or skipped, 1 some recording failed, 2 usage/config/input error,
3 authentication or permission refused, 4 another run holds the output folder, 130 interrupted.`,
    );
  program.addCommand(timplusCommand(ctx));
  program.addCommand(ringcentralCommand(ctx));
  program.addCommand(statusCommand(ctx));
  program.addCommand(configCommand(ctx));
  program.addCommand(sandboxCommand(ctx));
  program.addCommand(demoCommand(ctx));
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and exits. */
export async function main(argv: string[]): Promise<never> {
  const ctx: CliContext = { exitCode: 0 };
  const program = buildProgram(ctx);
  for (const sub of program.commands) sub.exitOverride();
  let code: number;
  try {
    await program.parseAsync(argv);
    code = ctx.exitCode;
  } catch (err) {
    code = report(err);
  }
  await new Promise<void>((r) => process.stdout.write('', () => r()));
  process.exit(code);
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    )
      return EXIT.OK;
    return EXIT.USAGE; // commander already printed the message
  }
  if (err instanceof RecpullError) {
    const vendor = err.vendorCode ? ` [${err.vendorCode}]` : '';
    process.stderr.write(`recpull: ${err.code}${vendor}: ${redact(err.message)}\n`);
    return exitCodeFor(err);
  }
  process.stderr.write(
    `recpull: internal error: ${redact(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`,
  );
  return EXIT.ITEM_FAILED;
}
