/**
 * Memory bench of Noojee retrieval (issue 10, test 10): one recording of 500 MB (BENCH_NOOJEE_MB) served by
 * the Noojee emulator as an Axis 1 envelope of base64 wrapped at 76 columns (about 690 MB on the wire),
 * fetched through the real path — NoojeeSource → NoojeeClient → soap-text/base64-stream decoding → the sink
 * (runDownloads) — into a temp folder by a child process whose peak RSS is reported; the child runs under the
 * V8 flags the launcher sets (bin/v8-flags.js), as `recpull noojee` does. Must stay under 200 MB.
 * A bench, not a test: it prints a table and one JSON line, and exits 1 when the limit is broken or the
 * file differs from the emulator's WAV (sha256).
 *
 *   node test/bench/noojee-memory.mjs [--mb N] [--style axis1|axis2|bare] [--no-wrap] [--no-verify] [--keep]
 *
 * Runs on the built code: `dist/` (npm run build), or RECPULL_DIST=<folder with the built src/> (a build into
 * a temp folder, when dist/ is stale). The emulator runs in this process, the download in a child, so the
 * child's RSS is the client's alone.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { V8_FLAGS } from '../../bin/v8-flags.js';

const HERE = fileURLToPath(import.meta.url);
const DIST = resolve(process.env.RECPULL_DIST ?? fileURLToPath(new URL('../../dist', import.meta.url)));
const load = (rel) => import(pathToFileURL(join(DIST, rel)).href);
const LIMIT_MB = 200;

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4]);
else await parent();

/** The child: one run of the real engine; prints `{maxRssMB, ms, bytes, sha256}` as JSON. */
async function child(configJson, out) {
  const cfg = JSON.parse(configJson);
  const { HttpClient } = await load('core/http.js');
  const { runDownloads } = await load('core/run.js');
  const { NoojeeClient } = await load('vendors/noojee/client.js');
  const { NoojeeSource } = await load('vendors/noojee/source.js');
  const http = new HttpClient({ timeoutMs: 60_000 });
  const client = new NoojeeClient(http, { url: cfg.url, username: cfg.username, profile: 'bench' });
  const source = new NoojeeSource({ client, selection: { tags: [], uniqueIds: [cfg.uniqueId] }, tz: 'UTC' });
  const t0 = performance.now();
  const failures = [];
  const result = await runDownloads(source, {
    out,
    profile: 'bench',
    concurrency: 1,
    retries: 0,
    force: true,
    dryRun: false,
    metadata: false,
    signal: new AbortController().signal,
    emit: (e) => {
      if (e.type === 'item-failed') failures.push(e.error);
    },
  });
  const ms = performance.now() - t0;
  await http.close();
  const { readManifest } = await load('core/manifest.js');
  const file = [...(await readManifest(out)).records.values()][0]?.files?.[0];
  process.stdout.write(
    `${JSON.stringify({
      maxRssMB: process.resourceUsage().maxRSS / 1024,
      ms,
      bytes: file?.bytes ?? 0,
      sha256: file?.sha256,
      counts: result.counts,
      failures,
    })}\n`,
  );
}

async function parent() {
  const { values } = parseArgs({
    options: {
      mb: { type: 'string', default: process.env.BENCH_NOOJEE_MB ?? '500' },
      style: { type: 'string', default: 'axis1' },
      'no-wrap': { type: 'boolean', default: false },
      'no-verify': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const bytes = Math.round(Number(values.mb) * 1_000_000);
  const { startNoojeeSandbox, encodedLength } = await load('sandbox/noojee/index.js');
  const { wavChunks } = await load('sandbox/catalogue.js');
  const uniqueId = '1700000000.500';
  const sb = await startNoojeeSandbox({
    recordings: 0,
    specs: [{ uniqueId, tag: 'big', style: values.style, wrap: !values['no-wrap'], bytes }],
  });
  const wire = encodedLength(sb.catalogue[0]);
  const out = await mkdtemp(join(tmpdir(), 'recpull-noojee-bench-'));
  let report;
  try {
    const cfg = JSON.stringify({ url: sb.url, username: sb.username, uniqueId });
    const t0 = performance.now();
    const text = await new Promise((resolveRun, reject) => {
      // under the V8 flags the launcher sets, as `recpull noojee` runs (bin/v8-flags.js)
      const p = spawn(process.execPath, [...V8_FLAGS.split(' '), HERE, '--child', cfg, out], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, RECPULL_DIST: DIST },
      });
      let buf = '';
      p.stdout.on('data', (d) => {
        buf += d;
      });
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolveRun(buf) : reject(new Error(`child exited ${code}`))));
    });
    const wallMs = performance.now() - t0;
    report = JSON.parse(text.trim().split('\n').at(-1));
    let expected;
    if (!values['no-verify']) {
      const h = createHash('sha256');
      for (const c of wavChunks(uniqueId, bytes, 1)) h.update(c);
      expected = h.digest('hex');
    }
    const mbps = report.bytes / 1e6 / (report.ms / 1000);
    const ok =
      report.counts.done === 1 &&
      report.maxRssMB < LIMIT_MB &&
      (expected === undefined || expected === report.sha256);
    const rows = [
      ['recording (WAV), MB', (bytes / 1e6).toFixed(1)],
      ['on the wire (base64 + XML), MB', (wire / 1e6).toFixed(1)],
      ['style', `${values.style}${values['no-wrap'] ? '' : ', wrapped at 76'}`],
      ['decoded to disk, MB', (report.bytes / 1e6).toFixed(1)],
      ['client peak RSS, MB', `${report.maxRssMB.toFixed(1)} (limit ${LIMIT_MB})`],
      ['run time, s', (report.ms / 1000).toFixed(2)],
      ['throughput, MB/s decoded', mbps.toFixed(1)],
      ['throughput, MB/s on the wire', (wire / 1e6 / (report.ms / 1000)).toFixed(1)],
      ['sha256 matches', expected === undefined ? 'not checked' : String(expected === report.sha256)],
      ['result', ok ? 'PASS' : 'FAIL'],
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(32)} ${v}`);
    if (report.failures.length > 0) console.log('failures:', JSON.stringify(report.failures));
    console.log(
      JSON.stringify({
        bench: 'noojee-memory',
        bytes,
        wireBytes: wire,
        style: values.style,
        wrap: !values['no-wrap'],
        peakRssMB: Number(report.maxRssMB.toFixed(1)),
        ms: Math.round(report.ms),
        wallMs: Math.round(wallMs),
        decodedMBps: Number(mbps.toFixed(1)),
        shaOk: expected === undefined ? null : expected === report.sha256,
        ok,
      }),
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    await sb.close();
    if (!values.keep) await rm(out, { recursive: true, force: true });
  }
}
