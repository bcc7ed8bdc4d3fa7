/**
 * Scale bench (issue 11): memory and time of a run that does not grow with the archive.
 *
 * For each N (default 100 000 and 1 000 000) it builds, once, a fixture folder holding
 *   - `out/.recpull/manifest.jsonl`: N `done` records of TIM Plus keys, each naming one file of `--bytes`
 *     bytes (default 1) that is present under `out/` with that size (the skip pass compares sizes);
 *   - `done.csv`: the same N keys as a TIM Plus input list; `new.csv`: N other keys;
 *   - `config.yaml`: a TIM Plus profile pointed at an unreachable URL (nothing should be fetched).
 * and times three runs of the CLI, each as a child process (`recpull timplus -i LIST -o OUT --json`,
 * stdout piped here and only counted):
 *   - `rerun-cold`: the re-run over N done items with no `.recpull/index.sqlite` yet (it is deleted first;
 *     the run builds it from the JSONL);
 *   - `rerun`: the same re-run again (the steady state of a nightly cron);
 *   - `dry-run`: `--dry-run` over the N new rows into an empty output folder.
 * Each reports wall time (ms) and peak RSS (MB, `/usr/bin/time -f %M` when present, else the child's
 * `process.resourceUsage().maxRSS` through this script's `--cli` wrapper), and the `run-end` counts, which
 * are checked (every done item skipped; every new row would be fetched). Prints a table and one JSON line.
 *
 *   node test/bench/scale.mjs [--n 100000,1000000] [--runs 2] [--fixtures DIR] [--bytes 1] [--keep]
 *                             [--only rerun-cold,rerun,dry-run]
 *
 * Runs on the built code: `dist/` (npm run build) through `bin/recpull.js` as a user would (its V8 flags
 * included), or RECPULL_DIST=<folder with the built src/> (e.g. an older build, to compare; it needs a
 * node_modules beside or above it; its `bundle/main.js` when it has one) through this script's `--cli`
 * wrapper, under the launcher's V8 flags (peak RSS is read another way there: measure two builds the same
 * way). Fixtures are kept in `--fixtures`
 * (default a temp folder, removed at the end unless `--keep`); an existing fixture of the same N is reused.
 * Exits 1 when a run's counts are wrong or it exits non-zero.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, writeSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { V8_FLAGS } from '../../bin/v8-flags.js';

const HERE = fileURLToPath(import.meta.url);
const BIN = fileURLToPath(new URL('../../bin/recpull.js', import.meta.url));
const DIST = resolve(process.env.RECPULL_DIST ?? fileURLToPath(new URL('../../dist', import.meta.url)));
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const PER_FOLDER = 1000; // files per voicelocation folder

if (process.argv[2] === '--cli') await cli(process.argv.slice(3));
else await parent();

/**
 * The child wrapper: runs the CLI of DIST with `args`; when `RECPULL_BENCH_RSS` names a file, writes the
 * peak RSS (KB) there on exit.
 */
async function cli(args) {
  const rssFile = process.env.RECPULL_BENCH_RSS;
  if (rssFile) process.on('exit', () => writeFileSync(rssFile, String(process.resourceUsage().maxRSS)));
  // the bundle bin/recpull.js loads, when the build has one (older builds do not)
  const entry = ['bundle/main.js', 'cli/main.js'].map((f) => join(DIST, f)).find((f) => existsSync(f));
  const { main } = await import(pathToFileURL(entry).href);
  await main([process.execPath, 'recpull', ...args]);
}

/** Writes the fixture of `n` rows into `dir` unless it is there already (`dir/ready`). */
function fixture(dir, n, bytes) {
  if (existsSync(join(dir, 'ready'))) return;
  const out = join(dir, 'out');
  const state = join(out, '.recpull');
  mkdirSync(state, { recursive: true });
  const body = Buffer.alloc(bytes, 0x78);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const manifest = openSync(join(state, 'manifest.jsonl'), 'w');
  const done = openSync(join(dir, 'done.csv'), 'w');
  const fresh = openSync(join(dir, 'new.csv'), 'w');
  const header = 'datasource,voicelocation,voicefilename\n';
  writeSync(done, header);
  writeSync(fresh, header);
  let lines = [];
  let doneRows = [];
  let newRows = [];
  const flush = () => {
    writeSync(manifest, lines.join(''));
    writeSync(done, doneRows.join(''));
    writeSync(fresh, newRows.join(''));
    lines = [];
    doneRows = [];
    newRows = [];
  };
  const at = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    const loc = `L${Math.floor(i / PER_FOLDER)}`;
    const name = `rec-${String(i).padStart(7, '0')}`;
    const path = `timplus/1/${loc}/${name}.wav`;
    if (i % PER_FOLDER === 0) mkdirSync(join(out, 'timplus', '1', loc), { recursive: true });
    const fd = openSync(join(out, path), 'w');
    if (bytes > 0) writeSync(fd, body);
    closeSync(fd);
    const files = [{ path, bytes, sha256, contentType: 'audio/wav' }];
    lines.push(
      `${JSON.stringify({ key: `timplus:1:${loc}:${name}`, status: 'done', files, attempts: 1, at })}\n`,
    );
    doneRows.push(`1,${loc},${name}\n`);
    newRows.push(`2,${loc},new-${String(i).padStart(7, '0')}\n`);
    if (lines.length >= 10_000) flush();
  }
  flush();
  closeSync(manifest);
  closeSync(done);
  closeSync(fresh);
  writeFileSync(
    join(dir, 'config.yaml'),
    'timplus:\n  default:\n    url: http://127.0.0.1:9\n    username: bench\n    password: bench-password\n',
  );
  writeFileSync(join(dir, 'ready'), '');
}

/**
 * One CLI run as a child: `{ms, rssMB, lines, end}` where `end` is the parsed `run-end` line (the last
 * line of stdout) and `lines` the number of NDJSON lines.
 */
async function measure(dir, args) {
  const rssFile = join(dir, `rss-${process.pid}`);
  // the launcher users run when it measures this build and GNU time reads the peak; otherwise the wrapper
  // (another build, or its own RSS report), under the launcher's V8 flags (bin/v8-flags.js)
  const node =
    TIME && !process.env.RECPULL_DIST ? [BIN, ...args] : [...V8_FLAGS.split(' '), HERE, '--cli', ...args];
  const [cmd, argv] = TIME
    ? [TIME, ['-f', '%M', '-o', rssFile, process.execPath, ...node]]
    : [process.execPath, node];
  const t0 = performance.now();
  const child = spawn(cmd, argv, {
    cwd: dir,
    env: { ...process.env, ...(TIME ? {} : { RECPULL_BENCH_RSS: rssFile }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let lines = 0;
  let tail = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) lines++;
    tail = (tail + chunk).slice(-4096);
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4096);
  });
  const code = await new Promise((res) => child.on('close', res));
  const ms = performance.now() - t0;
  const { readFileSync } = await import('node:fs');
  const rssKB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
  await rm(rssFile, { force: true });
  const last = tail.trim().split('\n').pop() ?? '';
  let end;
  try {
    end = JSON.parse(last);
  } catch {
    end = undefined;
  }
  return { code, ms: Math.round(ms), rssMB: Math.round(rssKB / 1024), lines, end, stderr: stderr.trim() };
}

async function parent() {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '100000,1000000' },
      runs: { type: 'string', default: '2' },
      fixtures: { type: 'string' },
      bytes: { type: 'string', default: '1' },
      only: { type: 'string', default: 'rerun-cold,rerun,dry-run' },
      keep: { type: 'boolean', default: false },
    },
  });
  const sizes = values.n.split(',').map(Number);
  const runs = Number(values.runs);
  const only = new Set(values.only.split(','));
  const root = values.fixtures ? resolve(values.fixtures) : await mkdtemp(join(tmpdir(), 'recpull-scale-'));
  const rows = [];
  let ok = true;
  for (const n of sizes) {
    const dir = join(root, `n${n}-b${values.bytes}`);
    mkdirSync(dir, { recursive: true });
    const g0 = performance.now();
    fixture(dir, n, Number(values.bytes));
    const genMs = Math.round(performance.now() - g0);
    if (genMs > 1000) process.stderr.write(`fixture N=${n}: ${genMs} ms\n`);
    const out = join(dir, 'out');
    const base = ['timplus', '-c', join(dir, 'config.yaml'), '--json', '--no-progress'];
    const scenarios = [
      {
        name: 'rerun-cold',
        args: [...base, '-i', join(dir, 'done.csv'), '-o', out],
        before: () => rm(join(out, '.recpull', 'index.sqlite'), { force: true }),
        want: { skipped: n, done: 0, failed: 0 },
      },
      {
        name: 'rerun',
        args: [...base, '-i', join(dir, 'done.csv'), '-o', out],
        before: async () => {},
        want: { skipped: n, done: 0, failed: 0 },
      },
      {
        name: 'dry-run',
        args: [...base, '-i', join(dir, 'new.csv'), '-o', join(dir, 'empty'), '--dry-run'],
        before: () => rm(join(dir, 'empty'), { recursive: true, force: true }),
        // before issue 11 a dry run counted what it would fetch as skipped
        want: { done: 0, failed: 0 },
        wantFetch: n,
      },
    ].filter((s) => only.has(s.name));
    for (const s of scenarios) {
      for (let r = 0; r < runs; r++) {
        await s.before();
        const m = await measure(dir, s.args);
        const c = m.end?.counts ?? {};
        const fetch = c.wouldFetch ?? c.skipped;
        const good =
          m.code === 0 &&
          m.end?.type === 'run-end' &&
          Object.entries(s.want).every(([k, v]) => c[k] === v) &&
          (s.wantFetch === undefined || fetch === s.wantFetch);
        if (!good) {
          ok = false;
          process.stderr.write(
            `${s.name} N=${n}: exit ${m.code}, counts ${JSON.stringify(c)}\n${m.stderr}\n`,
          );
        }
        rows.push({
          n,
          scenario: s.name,
          run: r + 1,
          ms: m.ms,
          rssMB: m.rssMB,
          events: m.lines,
          counts: c,
          ok: good,
        });
        process.stderr.write(`  ${s.name} N=${n} run ${r + 1}: ${m.ms} ms, ${m.rssMB} MB\n`);
      }
    }
  }
  if (!values.keep && !values.fixtures) await rm(root, { recursive: true, force: true });
  const pad = (v, w) => String(v).padStart(w);
  process.stdout.write(
    `${'N'.padStart(8)}  ${'scenario'.padEnd(11)} run ${'wall ms'.padStart(8)} ${'peak MB'.padStart(8)}\n`,
  );
  for (const r of rows)
    process.stdout.write(
      `${pad(r.n, 8)}  ${r.scenario.padEnd(11)} ${pad(r.run, 3)} ${pad(r.ms, 8)} ${pad(r.rssMB, 8)}${r.ok ? '' : '  WRONG'}\n`,
    );
  process.stdout.write(
    `${JSON.stringify({ bench: 'scale', dist: DIST, rssFrom: TIME ? '/usr/bin/time' : 'resourceUsage', rows: rows.map(({ counts, ...r }) => ({ ...r, counts })) })}\n`,
  );
  process.exitCode = ok ? 0 : 1;
}
