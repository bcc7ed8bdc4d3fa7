/**
 * How close `recpull ringcentral` gets to the Heavy rate limit: the setting of test 1 of
 * test/cli/ringcentral.test.ts (issue 3) — 300 recordings over 3 call-log pages, Heavy group 10 requests
 * per 1 s window — run as a subprocess against the emulator, `--rounds` times.
 *
 *   npx tsc -p tsconfig.build.json && node test/bench/ringcentral-ratio.mjs [--recordings 300] [--limit 10]
 *     [--window 1] [--per-page 100] [-j 4] [--rounds 1]
 *
 * The floor is the Heavy requests the run needed (call-log pages + recordings, as the emulator counted
 * them) ÷ the rate (limit per window); the ratio is the CLI's wall-clock time (spawn to exit) ÷ that floor.
 * Every file is checked byte for byte and any 429 fails the run (exit 1). Prints one line per round, then
 * one JSON line.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRingCentralSandbox } from '../../dist/sandbox/ringcentral/index.js';

const BIN = fileURLToPath(new URL('../../bin/recpull.js', import.meta.url));
const { values: argv } = parseArgs({
  options: {
    recordings: { type: 'string', default: '300' },
    limit: { type: 'string', default: '10' },
    window: { type: 'string', default: '1' },
    'per-page': { type: 'string', default: '100' },
    concurrency: { type: 'string', short: 'j', default: '4' },
    rounds: { type: 'string', default: '1' },
  },
});
const recordings = Number(argv.recordings);
const limit = Number(argv.limit);
const windowS = Number(argv.window);

const sha = (b) => createHash('sha256').update(b).digest('hex');

async function round() {
  const now = Date.now();
  const sb = await startRingCentralSandbox({
    recordings,
    minBytes: 8000,
    maxBytes: 16_000,
    from: new Date(now - 20 * 3600_000),
    to: new Date(now - 20 * 60_000),
    heavy: { limit, windowS, penaltyS: 60 },
  });
  const dir = await mkdtemp(join(tmpdir(), 'recpull-rc-bench-'));
  try {
    const config = join(dir, 'recpull.config.yaml');
    await writeFile(
      config,
      `ringcentral:\n  default:\n    server: ${sb.url}\n    mediaServer: ${sb.mediaUrl}\n    clientId: ${sb.clientId}\n    clientSecret: ${sb.clientSecret}\n    jwt: ${sb.jwt}\n`,
      { mode: 0o600 },
    );
    const out = join(dir, 'out');
    const args = ['ringcentral', '-c', config, '-o', out, '--quiet', '--no-progress'];
    args.push('--per-page', argv['per-page'], '-j', argv.concurrency);
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    const ms = performance.now() - t0;
    const requests = sb.groups.heavy.accepted.length;
    const floorMs = (requests / (limit / windowS)) * 1000;
    const manifest = (await readFile(join(out, '.recpull', 'manifest.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    let identical = 0;
    for (const line of manifest) {
      const id = line.key.split(':').at(-1);
      if (
        line.status === 'done' &&
        sha(await readFile(join(out, line.files[0].path))) === sha(sb.contentOf(id))
      )
        identical++;
    }
    return {
      code,
      ms: Math.round(ms),
      requests,
      floorMs,
      ratio: ms / floorMs,
      identical,
      tooMany: sb.rateLimitViolations,
    };
  } finally {
    await sb.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const results = [];
for (let i = 0; i < Number(argv.rounds); i++) {
  const r = await round();
  results.push(r);
  console.log(
    `round ${i + 1}: exit ${r.code}, ${r.requests} Heavy requests in ${r.ms} ms, floor ${r.floorMs} ms, ratio ${r.ratio.toFixed(3)}, ${r.identical}/${recordings} identical, ${r.tooMany} × 429`,
  );
}
const ok = results.every((r) => r.code === 0 && r.identical === recordings && r.tooMany === 0);
const ratios = results.map((r) => r.ratio).sort((a, b) => a - b);
console.log(
  JSON.stringify({
    recordings,
    limit,
    windowS,
    medianRatio: ratios[Math.floor(ratios.length / 2)],
    ok,
    results,
  }),
);
process.exitCode = ok ? 0 : 1;
