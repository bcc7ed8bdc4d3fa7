/** `recpull status [DIR]`: what a manifest says — done, failed (with reasons), bytes. */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { describeLines, openManifestView } from '../core/manifest.js';
import { escapeControls, formatBytes } from '../render/format.js';
import { safeWriter } from '../render/index.js';
import type { CliContext } from './common.js';

/** `recpull status [DIR]`: summarises a manifest; exit 1 when some recording's last line is `failed`. */
export function statusCommand(ctx: CliContext): Command {
  return new Command('status')
    .description('summarise the manifest of an output folder')
    .argument('[dir]', 'output folder', './recordings')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  recpull status /srv/recordings\n  recpull status --json | jq .failed',
    )
    .action(async (dir: string, flags: { json?: boolean }) => {
      const out = resolve(dir);
      const stdout = safeWriter(process.stdout); // `recpull status | head -1` must not crash on EPIPE
      // through the index (read-only: a stale one is caught up in a private copy): no record held in memory
      const view = await openManifestView(out);
      const failed: { key: string; code: string; message: string; vendorCode?: string; at: string }[] = [];
      let summary: { done: number; bytes: number };
      try {
        summary = view.index.summary();
        for (const at of view.index.failedLines()) {
          const rec = view.line(at.pos, at.len);
          failed.push({
            key: at.key,
            code: rec?.error?.code ?? 'E_UNKNOWN',
            message: rec?.error?.message ?? '',
            ...(rec?.error?.vendorCode ? { vendorCode: rec.error.vendorCode } : {}),
            at: rec?.at ?? '',
          });
        }
      } finally {
        await view.close();
      }
      const { done, bytes } = summary;
      const replay = view;
      if (flags.json) {
        stdout.write(
          `${JSON.stringify({ out, done, failed: failed.length, bytes, failures: failed, unreadableLines: replay.badLines, tornLastLine: replay.torn })}\n`,
        );
      } else if (!replay.exists || (done + failed.length === 0 && replay.badLines.length === 0)) {
        stdout.write(`${escapeControls(out)}: no manifest yet (nothing downloaded there)\n`);
      } else {
        // keys, codes and messages come from input lists and servers: one escaped value, one line
        const line = (text: string) => stdout.write(`${escapeControls(text)}\n`);
        line(out);
        line(`  done:   ${done} (${formatBytes(bytes)})`);
        line(`  failed: ${failed.length}`);
        const byCode = new Map<string, number>();
        for (const f of failed) byCode.set(f.code, (byCode.get(f.code) ?? 0) + 1);
        for (const [code, n] of byCode) line(`    ${code}: ${n}`);
        for (const f of failed.slice(0, 20))
          line(`  ${f.key}: ${f.code}${f.vendorCode ? ` [${f.vendorCode}]` : ''} ${f.message}`);
        if (failed.length > 20) stdout.write(`  … ${failed.length - 20} more (recpull status --json)\n`);
        if (replay.badLines.length > 0)
          stdout.write(`  unreadable manifest lines: ${describeLines(replay.badLines)}\n`);
      }
      ctx.exitCode = failed.length > 0 ? 1 : 0;
    });
}
