/**
 * The entry point: builds the commander program from the vendor registry, runs it, prints run-level errors
 * and exits with the code of DESIGN.md "Contracts" (0 ok, 1 item failed, 2 usage/config/input, 3 auth,
 * 4 locked, 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). The only place that calls `process.exit`, and the only
 * place that listens for signals and uncaught errors: the first signal stops the running command cleanly
 * (its source is closed, its lock released); a second one exits at once after saying what was left undone.
 */
import { resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeFor, Interrupt, RecpullError, STOP_SIGNALS, type StopSignal } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { VENDORS, type VendorEntry } from '../vendors/index.js';
import type { CliContext } from './common.js';

/**
 * Builds the program (exported for tests and for programs embedding another registry). Only the vendor
 * that `argv` names is loaded; the others are listed by name and summary.
 */
export async function buildProgram(
  ctx: CliContext,
  argv: readonly string[] = [],
  registry: readonly VendorEntry[] = VENDORS,
): Promise<Command> {
  const program = new Command('recpull')
    .description(`Bulk-download call recordings, resumably: ${registry.map((v) => v.name).join(', ')}.`)
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .enablePositionalOptions()
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
3 authentication or permission refused, 4 another run holds the output folder,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP).`,
    );
  const named = new Set(argv.slice(2).filter((a) => !a.startsWith('-')));
  // Every command loads only when argv names it: `recpull --version` and `--help` import none of them.
  const commands: { name: string; summary: string; load: () => Promise<Command> }[] = [
    ...registry.map((entry) => ({
      name: entry.name,
      summary: entry.summary,
      load: async () => (await import('./vendor-command.js')).vendorCommand(ctx, entry, await entry.load()),
    })),
    {
      name: 'status',
      summary: 'summarise the manifest of an output folder',
      load: async () => (await import('./status.js')).statusCommand(ctx),
    },
    {
      name: 'config',
      summary: 'inspect the configuration',
      load: async () => (await import('./config.js')).configCommand(ctx, registry),
    },
    {
      name: 'sandbox',
      summary: 'run the loopback emulators until Ctrl-C and print a config that points at them',
      load: async () => (await import('./sandbox.js')).sandboxCommand(ctx, registry),
    },
    {
      name: 'demo',
      summary: 'pull recordings from the built-in sandbox, with progress, to see recpull work',
      load: async () => (await import('./sandbox.js')).demoCommand(ctx, registry),
    },
  ];
  for (const c of commands) {
    program.addCommand(
      named.has(c.name) ? await c.load() : new Command(c.name).description(c.summary).allowUnknownOption(),
    );
  }
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and exits. `registry` defaults to every vendor. */
export async function main(argv: string[], registry: readonly VendorEntry[] = VENDORS): Promise<never> {
  const stop = new AbortController();
  const ctx: CliContext = { exitCode: 0, stop: stop.signal, vendors: registry.map((v) => v.name) };
  let finished = false;

  const onSignal = (signal: StopSignal) => {
    if (!stop.signal.aborted && ctx.stoppable) {
      stop.abort(new Interrupt(signal));
      return;
    }
    const undone = ctx.stoppable && ctx.undone ? `: ${ctx.undone()}` : '';
    process.stderr.write(
      `recpull: ${signal}${stop.signal.aborted ? ' again' : ''}, exiting at once${undone}\n`,
    );
    if (ctx.stoppable) ctx.abandon?.(STOP_SIGNALS[signal]); // the event stream still ends in run-end
    process.exit(STOP_SIGNALS[signal]);
  };
  for (const signal of Object.keys(STOP_SIGNALS) as StopSignal[]) process.on(signal, () => onSignal(signal));

  const onUncaught = (err: unknown) => {
    const text = redact(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.stderr.write(`recpull: internal error: ${text}\n`);
    process.exitCode = EXIT.ITEM_FAILED;
    if (!stop.signal.aborted && ctx.stoppable) {
      stop.abort(
        new RecpullError('E_INTERNAL', `internal error: ${redact(String((err as Error)?.message ?? err))}`),
      );
      // The run closes its source within its deadline; if it cannot, do not hang.
      setTimeout(() => process.exit(EXIT.ITEM_FAILED), 15_000).unref();
      return;
    }
    process.exit(EXIT.ITEM_FAILED);
  };
  // A closed pipe (`recpull ... | head`) is not an error of recpull's: stop writing, carry on.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') onUncaught(err);
    });
  }
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  // The event loop emptied while a command was still pending: something lost a promise. Never exit 0 then.
  process.on('beforeExit', () => {
    if (finished) return;
    process.stderr.write(
      'recpull: internal error: the run stopped before it finished (nothing left to wait for)\n',
    );
    process.exit(EXIT.ITEM_FAILED);
  });

  let code: number;
  try {
    const program = await buildProgram(ctx, argv, registry);
    for (const sub of program.commands) sub.exitOverride();
    await program.parseAsync(argv);
    code = ctx.exitCode;
  } catch (err) {
    code = report(err);
    // a vendor run that the parser refused (a bad flag or value): --json still ends in run-end
    if (err instanceof CommanderError && code === EXIT.USAGE && wantsJsonRun(argv, ctx.vendors)) {
      // loaded here only: --version and --help stay light
      const [{ runEndOfError }, { redactEvent }] = await Promise.all([
        import('./common.js'),
        import('../render/index.js'),
      ]);
      const usage = new RecpullError('E_USAGE', err.message.replace(/^error: /, ''));
      process.stdout.write(`${JSON.stringify(redactEvent(runEndOfError(usage, resolve(outArg(argv)))))}\n`);
    }
  }
  finished = true;
  await new Promise<void>((r) => process.stdout.write('', () => r()));
  process.exit(code);
}

/** The `-o`/`--out` of `argv` as written (the parser refused the line), else the default folder. */
function outArg(argv: string[]): string {
  for (let i = argv.length - 1; i >= 2; i--) {
    const a = argv[i] as string;
    if (a.startsWith('--out=')) return a.slice(6);
    if ((a === '-o' || a === '--out') && argv[i + 1] !== undefined) return argv[i + 1] as string;
  }
  return './recordings';
}

/**
 * Whether `argv` (as process.argv) asks a vendor subcommand for `--json`: then a usage error the parser
 * found is also said as a `run-end` line.
 */
function wantsJsonRun(argv: string[], vendors: readonly string[]): boolean {
  const args = argv.slice(2);
  const sub = args.find((a) => !a.startsWith('-'));
  return sub !== undefined && vendors.includes(sub) && args.includes('--json');
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
  if (err instanceof Interrupt) {
    // stopped before the run began (waiting for another run's hold on the folder's lock)
    process.stderr.write(`recpull: ${err.message}\n`);
    return err.exitCode;
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
