/**
 * The benchmark suite of issue 11: recpull against the tools an operator would otherwise use, measured in the
 * same run, alternated in each round, every output checked by size and sha256. `npm run bench` builds first;
 * then: node test/bench/run.mjs [flags]
 *
 *   (a) N × 256 KiB at -j16 (TIM Plus emulator as its own process): recpull vs two-phase `curl --parallel
 *       --parallel-max 16` (tokens, then audio from a config file) vs aria2c -j16 -i (both phases), if installed,
 *       and vs test/bench/node-floor.mjs, the least a Node client does for the same files (undici, node:http)
 *   (b) the same at -j32: recpull, curl --parallel-max 32; goal: recpull -j32 not slower than -j16
 *   (c) one 1 GiB recording: recpull vs `curl -o FILE && sync`
 *   (d) at 100 000 and 1 000 000 rows: re-run over N done items (cold and steady) and a dry run over N new
 *       rows: `node test/bench/scale.mjs --n N --only rerun-cold,rerun,dry-run` (its numbers)
 *   (e) `recpull --version` and `--help` vs `node -e 0`: 20 alternated runs each, medians
 *   (f) RingCentral at the Heavy limit: test/bench/ringcentral-ratio.mjs (run time ÷ floor)
 *   (g) Noojee 500 MB: test/bench/noojee-memory.mjs (client peak RSS)
 *
 * Flags (environment variable, default):
 *   --only a,c,...      (BENCH_ONLY, all)             sections to run
 *   --rounds N          (BENCH_ROUNDS, 3)             rounds of (a), (b), (c); tools alternate in each
 *   --recordings N      (BENCH_RECORDINGS, 2000)      recordings of (a)/(b)
 *   --min-kb/--max-kb N (BENCH_MIN_KB/MAX_KB, 262.144) their size in kB (1000 bytes); default 256 KiB each
 *   -j N                (BENCH_CONCURRENCY, 16)       concurrency of (a); (b) is 2 × N
 *   --big-mb N          (BENCH_BIG_MB, 1024)          size of (c) in MiB
 *   --scale-n N,N       (BENCH_SCALE_N, 100000,1000000) row counts of (d)
 *   --scale-fixtures DIR (BENCH_SCALE_FIXTURES, a temp folder) where (d) keeps its fixtures between runs
 *                                                     (building the 1M one takes about two minutes)
 *   --startup-runs N    (BENCH_STARTUP_RUNS, 20)      runs of each command in (e)
 *   --no-curl                                         no peers (curl, aria2c, node-floor.mjs) at all
 *   --cpu-prof                                        one more recpull run of (a) and (c) under --cpu-prof and
 *                                                     --trace-gc: top self time and GC counts printed
 *   --no-write                                        do not write test/bench/results/<date>.{json,md}
 *   --keep                                            keep the temp folder
 * (`--demo-runs` of the earlier bench is gone: `recpull demo` is not a throughput reference.)
 *
 * CPU seconds (user + sys) and peak RSS (`/usr/bin/time -f %M`, of the tool and its children: for the curl
 * pipeline, the largest process) come from GNU time, which the bench needs. A missing peer is reported and
 * skipped, never a failure. A wrong or missing output file fails the bench (exit 1); a goal not met does not.
 * Output: the log on stderr, the table on stdout, and test/bench/results/<YYYY-MM-DD>.json / .md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { wavChunks } from '../../dist/sandbox/catalogue.js';
import { printSummary } from './cpuprofile.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/recpull.js', import.meta.url));
const GNU_TIME = '/usr/bin/time';
const SECTIONS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

const { values: argv } = parseArgs({
  options: {
    only: { type: 'string' },
    rounds: { type: 'string' },
    recordings: { type: 'string' },
    'min-kb': { type: 'string' },
    'max-kb': { type: 'string' },
    concurrency: { type: 'string', short: 'j' },
    'big-mb': { type: 'string' },
    'scale-n': { type: 'string' },
    'scale-fixtures': { type: 'string' },
    'startup-runs': { type: 'string' },
    'no-curl': { type: 'boolean' },
    'cpu-prof': { type: 'boolean' },
    'no-write': { type: 'boolean' },
    keep: { type: 'boolean' },
  },
});
const num = (flag, env, def) => {
  const v = Number(argv[flag] ?? process.env[env] ?? def);
  if (!Number.isFinite(v) || v < 0)
    throw new Error(`--${flag}: not a number: ${argv[flag] ?? process.env[env]}`);
  return v;
};
const only = new Set(
  (argv.only ?? process.env.BENCH_ONLY ?? SECTIONS.join(',')).split(',').map((s) => s.trim()),
);
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s} (a–g)`);
const opts = {
  rounds: Math.max(1, Math.floor(num('rounds', 'BENCH_ROUNDS', 3))),
  recordings: Math.floor(num('recordings', 'BENCH_RECORDINGS', 2000)),
  minBytes: Math.round(num('min-kb', 'BENCH_MIN_KB', 262.144) * 1000),
  maxBytes: Math.round(
    num('max-kb', 'BENCH_MAX_KB', argv['min-kb'] ?? process.env.BENCH_MIN_KB ?? 262.144) * 1000,
  ),
  j: Math.floor(num('concurrency', 'BENCH_CONCURRENCY', 16)),
  bigBytes: Math.round(num('big-mb', 'BENCH_BIG_MB', 1024) * 1024 * 1024),
  scaleFixtures: argv['scale-fixtures'] ?? process.env.BENCH_SCALE_FIXTURES,
  scaleNs: (argv['scale-n'] ?? process.env.BENCH_SCALE_N ?? '100000,1000000').split(',').map((x) => {
    const n = Number(x);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--scale-n: not a row count: ${x}`);
    return n;
  }),
  startupRuns: Math.max(1, Math.floor(num('startup-runs', 'BENCH_STARTUP_RUNS', 20))),
  peers: !argv['no-curl'],
};

const log = (s) => process.stderr.write(`bench: ${s}\n`);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const which = (cmd) =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null;
const firstLine = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout || r.stderr).split('\n')[0].trim() : null;
};
const round1 = (x, d = 1) => (Number.isFinite(x) ? +x.toFixed(d) : null);

if (!existsSync(GNU_TIME)) {
  log(
    `${GNU_TIME} not found: the bench needs GNU time for CPU seconds and peak RSS (apt-get install -y time)`,
  );
  process.exit(2);
}

/**
 * Runs a command under GNU time: wall s, CPU s (user + sys), peak RSS MB (of the largest process of the tree),
 * exit code, stdout, stderr.
 */
async function measure(cmd, args, { cwd, env = process.env } = {}) {
  const timeFile = join(cwd, `.time-${process.hrtime.bigint()}`);
  const t0 = performance.now();
  const child = spawn(GNU_TIME, ['-f', '%U %S %M', '-o', timeFile, cmd, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = [];
  const err = [];
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, sig) => resolve(c ?? sig));
  });
  const wall = (performance.now() - t0) / 1000;
  const t = (await readFile(timeFile, 'utf8').catch(() => '')).trim().split('\n').at(-1) ?? '';
  await rm(timeFile, { force: true });
  const [user, sys, rssKb] = t.split(' ').map(Number);
  return {
    wall,
    cpu: user + sys,
    rssMB: rssKb / 1024,
    code,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

/** Runs a node script to the end, its stderr passed through (indented), and returns its stdout. */
async function runScript(script, args) {
  const child = spawn(process.execPath, [join(HERE, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  const err = [];
  child.stdout.on('data', (d) => out.push(d));
  createInterface({ input: child.stderr }).on('line', (l) => {
    err.push(l);
    process.stderr.write(`  ${script}: ${l}\n`);
  });
  const code = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? sig)));
  const stdout = Buffer.concat(out).toString('utf8');
  for (const l of stdout.trim().split('\n')) process.stderr.write(`  ${script}: ${l}\n`);
  const json = stdout
    .trim()
    .split('\n')
    .reverse()
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return undefined;
      }
    })
    .find((j) => j && typeof j === 'object');
  return { code, stdout, stderr: err, json };
}

/** Starts test/bench/timplus-server.mjs in its own process; resolves with its JSON line and a stop(). */
async function startEmulator(dir, args) {
  await mkdir(dir, { recursive: true });
  const child = spawn(process.execPath, [join(HERE, 'timplus-server.mjs'), '--dir', dir, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('exit', (c) => reject(new Error(`timplus-server exited (${c}) before printing its URL`)));
  });
  const info = JSON.parse(line);
  info.rows = JSON.parse(await readFile(info.catalogue, 'utf8'));
  info.stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return info;
}

const sha256OfFile = (path) =>
  new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let n = 0;
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (c) => {
        h.update(c);
        n += c.length;
      })
      .on('error', reject)
      .on('end', () => resolve({ bytes: n, sha256: h.digest('hex') }));
  });

/** Expected {bytes, sha256} of every recording of an emulator, generated the way it serves them. */
function expectedOf(emu) {
  const map = new Map();
  for (const r of emu.rows) {
    const h = createHash('sha256');
    for (const c of wavChunks(r.voicefilename, r.bytes, emu.seed, 64 * 1024, { fast: emu.fast })) h.update(c);
    map.set(r.voicefilename, { bytes: r.bytes, sha256: h.digest('hex') });
  }
  return map;
}

/** Checks `files` (voicefilename → absolute path): the names of the wrong or missing ones. */
async function verify(expected, files) {
  const bad = [];
  for (const [name, want] of expected) {
    const path = files.get(name);
    const got = path ? await sha256OfFile(path).catch(() => undefined) : undefined;
    if (!got || got.bytes !== want.bytes || got.sha256 !== want.sha256) bad.push(name);
  }
  return bad;
}

/** voicefilename → path of recpull's output, from its manifest (the last line of each key). */
async function recpullFiles(out) {
  const text = await readFile(join(out, '.recpull', 'manifest.jsonl'), 'utf8').catch(() => '');
  const files = new Map();
  for (const l of text.split('\n')) {
    if (!l) continue;
    const rec = JSON.parse(l);
    const name = rec.key.split(':').at(-1);
    if (rec.status === 'done' && rec.files?.[0]) files.set(name, join(out, rec.files[0].path));
    else files.delete(name);
  }
  return files;
}
const flatFiles = (expected, dir) => new Map([...expected.keys()].map((n) => [n, join(dir, `${n}.wav`)]));

const cleanEnv = (home) => ({
  PATH: process.env.PATH,
  HOME: home,
  XDG_CONFIG_HOME: join(home, '.config'),
  NO_COLOR: '1',
  LC_ALL: 'C',
});

let failed = false;

/**
 * The download tools of (a)/(b)/(c): each `run(out)` downloads the emulator's whole catalogue into `out`
 * (a fresh folder) and returns the measurement plus where each file landed.
 */
function tools(emu, root, j) {
  const config = join(root, 'recpull.config.yaml');
  const curlBin = opts.peers ? which('curl') : null;
  const ariaBin = opts.peers ? which('aria2c') : null;
  const tokenUrl = (r) =>
    `${emu.url}/voice.wav?cmd=getvmsg&datasource=${encodeURIComponent(r.datasource)}&recordingid=${encodeURIComponent(r.voicefilename)}&voicelocation=${encodeURIComponent(r.voicelocation)}`;
  const env = cleanEnv(root);
  return {
    config,
    curlBin,
    ariaBin,
    async prepare() {
      await writeFile(
        config,
        `timplus:\n  default:\n    url: ${emu.url}\n    username: ${emu.username}\n    password: "${emu.password}"\n`,
        { mode: 0o600 },
      );
      // curl, phase 1: every token URL (Basic) into tok/<id>; phase 2: every audio URL from a config file
      // that awk builds from the tokens.
      await writeFile(
        join(root, 'curl-tokens.cfg'),
        emu.rows.map((r) => `url = "${tokenUrl(r)}"\noutput = "tok/${r.voicefilename}"\n`).join(''),
      );
      await writeFile(
        join(root, 'aria-tokens.txt'),
        emu.rows.map((r) => `${tokenUrl(r)}\n  out=${r.voicefilename}\n`).join(''),
      );
    },
    recpull: (out, extra = []) =>
      measure(
        process.execPath,
        [BIN, 'timplus', '-c', config, '-i', emu.list, '-o', out, '-j', String(j), '--no-progress', ...extra],
        { cwd: root, env },
      ),
    /** Two-phase curl --parallel: tokens, then audio; `sync` at the end when `sync`. */
    curl: (out, { sync = false } = {}) => {
      const script = [
        'set -e',
        `cd "${out}"`,
        'mkdir tok',
        `curl -sS --fail --parallel --parallel-max ${j} -u "$TP_USER:$TP_PASS" -K "${join(root, 'curl-tokens.cfg')}"`,
        `awk 'FNR==1 { print "url = \\"" $0 "\\""; print "output = \\"" substr(FILENAME, 5) ".wav\\"" }' tok/* > audio.cfg`,
        `curl -sS --fail --parallel --parallel-max ${j} -K audio.cfg`,
        sync ? 'sync' : ':',
      ].join('\n');
      return measure('sh', ['-c', script], {
        cwd: root,
        env: { ...env, TP_USER: emu.username, TP_PASS: emu.password },
      });
    },
    /** The minimal Node client of test/bench/node-floor.mjs over `http` (undici or node). */
    nodeFloor: (out, http) =>
      measure(
        process.execPath,
        [
          join(HERE, 'node-floor.mjs'),
          '--http',
          http,
          '--url',
          emu.url,
          '--catalogue',
          emu.catalogue,
          '--out',
          out,
          '-j',
          String(j),
        ],
        { cwd: root, env: { ...env, TP_USER: emu.username, TP_PASS: emu.password } },
      ),
    /** Two-phase aria2c -j: tokens, then audio. */
    aria2c: (out) => {
      const common = `-j ${j} --file-allocation=none --auto-file-renaming=false --allow-overwrite=true --console-log-level=error --summary-interval=0 --download-result=hide -q`;
      const script = [
        'set -e',
        `cd "${out}"`,
        `aria2c ${common} --http-user="$TP_USER" --http-passwd="$TP_PASS" -d tok -i "${join(root, 'aria-tokens.txt')}"`,
        `awk 'FNR==1 { print $0; print "  out=" substr(FILENAME, 5) ".wav" }' tok/* > audio.txt`,
        `aria2c ${common} -d . -i audio.txt`,
      ].join('\n');
      return measure('sh', ['-c', script], {
        cwd: root,
        env: { ...env, TP_USER: emu.username, TP_PASS: emu.password },
      });
    },
  };
}

/** One measured, verified run of a tool; the folder is removed afterwards. */
async function runTool(name, expected, out, run, filesOf) {
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  // Not timed: every tool starts with no dirty pages of the one before it still to write back (curl and
  // aria2c, which do not fsync, leave 524 MB of them). It did not narrow curl's own spread (3.8–5.9 s
  // over three rounds on 2026-11-30): that is the machine's.
  spawnSync('sync');
  const r = await run(out);
  const bad = await verify(expected, await filesOf(out));
  const totalBytes = [...expected.values()].reduce((n, e) => n + e.bytes, 0);
  const res = {
    wall: r.wall,
    cpu: r.cpu,
    rssMB: r.rssMB,
    MBps: totalBytes / 1e6 / r.wall,
    ok: r.code === 0 && bad.length === 0,
  };
  if (!res.ok) {
    failed = true;
    log(`${name}: exit ${r.code}, ${bad.length} wrong/missing file(s) ${bad.slice(0, 3).join(' ')}`);
    log(`${name}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`);
  }
  log(
    `  ${name.padEnd(26)} ${r.wall.toFixed(2)} s, ${res.MBps.toFixed(0)} MB/s, ${r.cpu.toFixed(2)} CPU s, peak RSS ${r.rssMB.toFixed(0)} MB${res.ok ? ', verified' : ' FAILED'}`,
  );
  await rm(out, { recursive: true, force: true });
  return res;
}

/** Median and range of the runs of one tool. */
function summarise(runs) {
  if (!runs?.length) return null;
  const pick = (k) => runs.map((r) => r[k]);
  const range = (k) => [round1(Math.min(...pick(k)), 2), round1(Math.max(...pick(k)), 2)];
  return {
    runs: runs.length,
    wall: round1(median(pick('wall')), 3),
    wallRange: range('wall'),
    MBps: round1(median(pick('MBps'))),
    MBpsRange: range('MBps'),
    cpu: round1(median(pick('cpu')), 2),
    rssMB: round1(median(pick('rssMB'))),
    rssRange: range('rssMB'),
    ok: runs.every((r) => r.ok),
  };
}

/** Runs every tool of `list` once per round, in an order that rotates with the round. */
async function alternate(list, expected, root) {
  const runs = Object.fromEntries(list.map((t) => [t.name, []]));
  for (let round = 0; round < opts.rounds; round++) {
    log(` round ${round + 1}/${opts.rounds}`);
    for (let k = 0; k < list.length; k++) {
      const t = list[(k + round) % list.length];
      runs[t.name].push(await runTool(t.name, expected, join(root, 'out'), t.run, t.files));
    }
  }
  return Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, summarise(v)]));
}

/** One recpull run under --cpu-prof and --trace-gc: the profile's top self time and the number of GCs. */
async function profile(label, t, root, emuExpected) {
  const profDir = join(root, `prof-${label}`);
  const out = join(root, 'out-prof');
  await rm(out, { recursive: true, force: true });
  const r = await measure(
    process.execPath,
    [
      '--cpu-prof',
      '--cpu-prof-dir',
      profDir,
      '--trace-gc',
      BIN,
      'timplus',
      '-c',
      t.config,
      '-i',
      t.list,
      '-o',
      out,
      '-j',
      String(t.j),
      '--no-progress',
    ],
    { cwd: root, env: cleanEnv(root) },
  );
  const bad = await verify(emuExpected, await recpullFiles(out));
  await rm(out, { recursive: true, force: true });
  const gc = r.stdout.split('\n').filter((l) => /Mark-Compact|Scavenge|Mark-sweep/.test(l));
  const full = gc.filter((l) => /Mark-Compact|Mark-sweep/.test(l)).length;
  process.stdout.write(
    `\n(${label}) profiled run: ${r.wall.toFixed(2)} s, exit ${r.code}, ${bad.length} bad file(s); GCs: ${gc.length} (${full} full)\n`,
  );
  const file = (await readdir(profDir).catch(() => [])).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return { gc: gc.length, fullGc: full };
  const keep = join(tmpdir(), `recpull-bench-${label}-${Date.now()}.cpuprofile`);
  await writeFile(keep, await readFile(join(profDir, file)));
  printSummary(JSON.parse(await readFile(keep, 'utf8')), 20, (s) => process.stdout.write(`${s}\n`));
  process.stdout.write(`(profile kept: ${keep})\n`);
  return { gc: gc.length, fullGc: full, profile: keep };
}

/** (a) and (b): many small recordings. */
async function small(root, result) {
  const dir = join(root, 'emu-small');
  const emu = await startEmulator(dir, [
    '--recordings',
    String(opts.recordings),
    '--min-bytes',
    String(opts.minBytes),
    '--max-bytes',
    String(opts.maxBytes),
    '--scheme',
    'basic',
  ]);
  try {
    const expected = expectedOf(emu);
    const mb = (emu.totalBytes / 1e6).toFixed(0);
    for (const [section, j] of [
      ['a', opts.j],
      ['b', opts.j * 2],
    ]) {
      if (!only.has(section)) continue;
      log(`(${section}) ${emu.recordings} × ${(opts.minBytes / 1024).toFixed(0)} KiB (${mb} MB) at -j${j}`);
      const t = tools(emu, root, j);
      await t.prepare();
      if (opts.peers && !t.curlBin) log('curl is not installed: no curl reference');
      if (opts.peers && !t.ariaBin && section === 'a')
        log('aria2c is not installed (apt-get install -y aria2): no aria2c reference');
      const list = [
        { name: `recpull -j${j}`, run: (out) => t.recpull(out), files: recpullFiles },
        ...(t.curlBin
          ? [
              {
                name: `curl --parallel-max ${j}`,
                run: (out) => t.curl(out),
                files: (o) => flatFiles(expected, o),
              },
            ]
          : []),
        ...(t.ariaBin && section === 'a'
          ? [{ name: `aria2c -j${j}`, run: (out) => t.aria2c(out), files: (o) => flatFiles(expected, o) }]
          : []),
        ...(opts.peers && section === 'a'
          ? ['undici', 'node'].map((http) => ({
              name: `node floor (${http})`,
              run: (out) => t.nodeFloor(out, http),
              files: (o) => flatFiles(expected, o),
            }))
          : []),
      ];
      const r = await alternate(list, expected, root);
      result[section] = {
        recordings: emu.recordings,
        totalMB: +mb,
        j,
        recpull: r[`recpull -j${j}`],
        curl: r[`curl --parallel-max ${j}`] ?? null,
        ...(section === 'a'
          ? {
              aria2c: r[`aria2c -j${j}`] ?? null,
              nodeFloor: {
                undici: r['node floor (undici)'] ?? null,
                node: r['node floor (node)'] ?? null,
              },
            }
          : {}),
        missing: [!t.curlBin && 'curl', section === 'a' && !t.ariaBin && 'aria2c'].filter(Boolean),
      };
      if (argv['cpu-prof'] && section === 'a')
        result.a.cpuProfile = await profile('a', { config: t.config, list: emu.list, j }, root, expected);
    }
  } finally {
    await emu.stop();
  }
}

/** (c): one big recording. */
async function big(root, result) {
  const dir = join(root, 'emu-big');
  const emu = await startEmulator(dir, [
    '--recordings',
    '1',
    '--bytes',
    String(opts.bigBytes),
    '--scheme',
    'basic',
  ]);
  try {
    const expected = expectedOf(emu);
    log(`(c) one recording of ${(opts.bigBytes / 2 ** 20).toFixed(0)} MiB`);
    const t = tools(emu, root, 1);
    await t.prepare();
    const r = emu.rows[0];
    const list = [
      { name: 'recpull', run: (out) => t.recpull(out), files: recpullFiles },
      ...(t.curlBin
        ? [
            {
              name: 'curl -o && sync',
              run: (out) => t.curl(out, { sync: true }),
              files: (o) => new Map([[r.voicefilename, join(o, `${r.voicefilename}.wav`)]]),
            },
          ]
        : []),
    ];
    if (opts.peers && !t.curlBin) log('curl is not installed: no curl reference');
    const res = await alternate(list, expected, root);
    result.c = {
      bytes: emu.totalBytes,
      recpull: res.recpull,
      curl: res['curl -o && sync'] ?? null,
      missing: t.curlBin ? [] : ['curl'],
    };
    if (argv['cpu-prof'])
      result.c.cpuProfile = await profile('c', { config: t.config, list: emu.list, j: 1 }, root, expected);
  } finally {
    await emu.stop();
  }
}

/**
 * (d): scale.mjs at each N of `--scale-n` (default 100 000 and 1 000 000, to show the slope): the re-run over
 * N done items (steady state, and cold: index built first) and a dry run over N new rows. N below a million
 * runs `--rounds` times, a million or more once (one such run takes half a minute or more).
 */
async function rerun(result) {
  result.d = { ok: true, byN: [] };
  for (const n of opts.scaleNs) {
    const runs = n >= 1_000_000 ? 1 : opts.rounds;
    log(`(d) N=${n}: node test/bench/scale.mjs --n ${n} --only rerun-cold,rerun,dry-run --runs ${runs}`);
    const r = await runScript('scale.mjs', [
      ...(opts.scaleFixtures ? ['--fixtures', opts.scaleFixtures] : []),
      '--n',
      String(n),
      '--only',
      'rerun-cold,rerun,dry-run',
      '--runs',
      String(runs),
    ]);
    const pick = (name) => {
      const found = r.stderr
        .map((l) => new RegExp(`^\\s*${name} N=${n} run \\d+: (\\d+) ms, ([\\d.]+) MB`).exec(l))
        .filter(Boolean)
        .map((m) => ({ wall: Number(m[1]) / 1000, rssMB: Number(m[2]) }));
      if (!found.length) return null;
      return {
        runs: found.length,
        wall: round1(median(found.map((x) => x.wall)), 3),
        wallRange: [Math.min(...found.map((x) => x.wall)), Math.max(...found.map((x) => x.wall))],
        rssMB: round1(median(found.map((x) => x.rssMB))),
      };
    };
    result.d.byN.push({ n, rerun: pick('rerun'), rerunCold: pick('rerun-cold'), dryRun: pick('dry-run') });
    if (r.code !== 0) {
      failed = true;
      result.d.ok = false;
      log(`(d) scale.mjs exited ${r.code}`);
    }
  }
}

/** (e): start-up time of --version and --help against node -e 0. */
async function startup(root, result) {
  log(`(e) start-up: ${opts.startupRuns} alternated runs of node -e 0, recpull --version, recpull --help`);
  const cmds = [
    ['node -e 0', ['-e', '0']],
    ['recpull --version', [BIN, '--version']],
    ['recpull --help', [BIN, '--help']],
  ];
  const runs = Object.fromEntries(cmds.map(([n]) => [n, []]));
  for (let i = 0; i < opts.startupRuns; i++) {
    for (const [name, args] of cmds) {
      const r = await measure(process.execPath, args, { cwd: root, env: cleanEnv(root) });
      if (r.code !== 0) {
        failed = true;
        log(`${name}: exit ${r.code}`);
      }
      runs[name].push(r);
    }
  }
  result.e = Object.fromEntries(
    Object.entries(runs).map(([n, rs]) => [
      n,
      {
        wall: round1(median(rs.map((r) => r.wall)), 3),
        wallRange: [
          round1(Math.min(...rs.map((r) => r.wall)), 3),
          round1(Math.max(...rs.map((r) => r.wall)), 3),
        ],
        rssMB: round1(median(rs.map((r) => r.rssMB))),
      },
    ]),
  );
  for (const [n, v] of Object.entries(result.e)) log(`  ${n.padEnd(20)} ${v.wall} s, ${v.rssMB} MB`);
}

async function ringcentral(result) {
  log('(f) RingCentral at the Heavy limit: node test/bench/ringcentral-ratio.mjs');
  const r = await runScript('ringcentral-ratio.mjs', ['--rounds', String(opts.rounds)]);
  const ratios = r.json?.results?.map((x) => x.ratio) ?? [];
  result.f = r.json
    ? {
        ratio: round1(r.json.medianRatio, 3),
        ratioRange: [round1(Math.min(...ratios), 3), round1(Math.max(...ratios), 3)],
        ok: r.json.ok,
      }
    : null;
  if (r.code !== 0) {
    failed = true;
    log(`(f) ringcentral-ratio.mjs exited ${r.code}`);
  }
}

async function noojee(result) {
  log('(g) Noojee 500 MB memory: node test/bench/noojee-memory.mjs');
  const r = await runScript('noojee-memory.mjs', []);
  result.g = r.json ? { peakRssMB: r.json.peakRssMB, seconds: r.json.ms / 1000, ok: r.json.ok } : null;
  if (r.code !== 0 && r.json?.shaOk === false) {
    failed = true;
    log('(g) the Noojee file differs from the emulator’s');
  }
}

/** The table: one row per goal, with recpull's number, the peer's, the ratio, the goal and whether it is met. */
function goals(result) {
  const rows = [];
  const fmt = (v, unit = '', d = 1) =>
    v === null || v === undefined || Number.isNaN(v) ? '–' : `${(+v).toFixed(d)}${unit}`;
  const rng = (a, unit = '', d = 1) => (a ? `${fmt(a[0], '', d)}–${fmt(a[1], unit, d)}` : '–');
  const met = (b) => (b === undefined || b === null ? 'n/a' : b ? 'yes' : 'NO');
  const { a, b, c, d, e, f, g } = result;
  if (a) {
    const peer = a.curl;
    const ratio = peer ? a.recpull.MBps / peer.MBps : null;
    rows.push({
      bench: `(a) ${a.recordings} × 256 KiB, -j${a.j}: MB/s`,
      recpull: `${fmt(a.recpull.MBps)} (${rng(a.recpull.MBpsRange)}), ${fmt(a.recpull.cpu, '', 2)} CPU s`,
      peer: peer
        ? `curl --parallel: ${fmt(peer.MBps)} (${rng(peer.MBpsRange)}), ${fmt(peer.cpu, '', 2)} CPU s`
        : 'curl missing',
      ratio: fmt(ratio, '×', 2),
      goal: '≥ 1.0×',
      met: met(ratio === null ? null : ratio >= 1),
    });
    if (a.aria2c)
      rows.push({
        bench: `(a) same, vs aria2c: MB/s`,
        recpull: fmt(a.recpull.MBps),
        peer: `aria2c: ${fmt(a.aria2c.MBps)} (${rng(a.aria2c.MBpsRange)}), RSS ${fmt(a.aria2c.rssMB)} MB`,
        ratio: fmt(a.recpull.MBps / a.aria2c.MBps, '×', 2),
        goal: '(reference)',
        met: '',
      });
    else if (a.missing.includes('aria2c'))
      rows.push({
        bench: '(a) vs aria2c',
        recpull: '',
        peer: 'aria2c not installed',
        ratio: '',
        goal: '',
        met: '',
      });
    for (const [http, floor] of Object.entries(a.nodeFloor ?? {})) {
      if (!floor) continue;
      rows.push({
        bench: `(a) same, vs a minimal Node client (${http === 'node' ? 'node:http' : 'undici'}): MB/s`,
        recpull: fmt(a.recpull.MBps),
        peer: `node-floor.mjs: ${fmt(floor.MBps)} (${rng(floor.MBpsRange)}), ${fmt(floor.cpu, '', 2)} CPU s, RSS ${fmt(floor.rssMB)} MB${peer ? `; ${fmt(floor.MBps / peer.MBps, '×', 2)} curl` : ''}`,
        ratio: fmt(a.recpull.MBps / floor.MBps, '×', 2),
        goal: '(reference)',
        met: '',
      });
    }
    rows.push({
      bench: `(a) peak RSS`,
      recpull: `${fmt(a.recpull.rssMB, ' MB')} (${rng(a.recpull.rssRange)})`,
      peer: peer ? `curl: ${fmt(peer.rssMB, ' MB')}` : '',
      ratio: '',
      goal: '≤ 80 MB',
      met: met(a.recpull.rssMB <= 80),
    });
  }
  if (b) {
    const ratio = a ? b.recpull.wall / a.recpull.wall : null;
    rows.push({
      bench: `(b) same at -j${b.j}: MB/s`,
      recpull: `${fmt(b.recpull.MBps)} (${rng(b.recpull.MBpsRange)})${a ? `; -j${a.j}: ${fmt(a.recpull.MBps)}` : ''}`,
      peer: b.curl ? `curl --parallel-max ${b.j}: ${fmt(b.curl.MBps)}` : 'curl missing',
      ratio: ratio === null ? '–' : `time -j${b.j}/-j${a.j} ${ratio.toFixed(2)}`,
      goal: `-j${b.j} not slower (≤ 1.05)`,
      met: met(ratio === null ? null : ratio <= 1.05),
    });
  }
  if (c) {
    const peer = c.curl;
    const ratio = peer ? c.recpull.MBps / peer.MBps : null;
    rows.push({
      bench: `(c) one ${(c.bytes / 2 ** 30).toFixed(c.bytes >= 2 ** 30 ? 0 : 2)} GiB recording: MB/s`,
      recpull: `${fmt(c.recpull.MBps)} (${rng(c.recpull.MBpsRange)}), ${fmt(c.recpull.cpu, '', 2)} CPU s`,
      peer: peer
        ? `curl -o && sync: ${fmt(peer.MBps)} (${rng(peer.MBpsRange)}), ${fmt(peer.cpu, '', 2)} CPU s`
        : 'curl missing',
      ratio: fmt(ratio, '×', 2),
      goal: '≥ 0.8×',
      met: met(ratio === null ? null : ratio >= 0.8),
    });
    rows.push({
      bench: '(c) peak RSS',
      recpull: `${fmt(c.recpull.rssMB, ' MB')} (${rng(c.recpull.rssRange)})`,
      peer: peer ? `curl: ${fmt(peer.rssMB, ' MB')}` : '',
      ratio: '',
      goal: '≤ 100 MB',
      met: met(c.recpull.rssMB <= 100),
    });
  }
  for (const row of d?.byN ?? []) {
    const { n, rerun: r, rerunCold: cold, dryRun: dry } = row;
    const many = n.toLocaleString('en-US').replaceAll(',', ' ');
    const big = n >= 1_000_000;
    const goal = big ? { s: 10, mb: 300 } : { s: 1.5, mb: 150 };
    rows.push({
      bench: `(d) re-run, ${many} done items`,
      recpull: r
        ? `${fmt(r.wall, ' s', 2)} (${rng(r.wallRange, ' s', 2)}), ${fmt(r.rssMB, ' MB')}`
        : 'no result',
      peer: cold ? `cold (index built): ${fmt(cold.wall, ' s', 2)}, ${fmt(cold.rssMB, ' MB')}` : '',
      ratio: '',
      goal: `≤ ${goal.s} s, ≤ ${goal.mb} MB`,
      met: met(r ? r.wall <= goal.s && r.rssMB <= goal.mb : null),
    });
    rows.push({
      bench: `(d) --dry-run, ${many} new rows`,
      recpull: dry
        ? `${fmt(dry.wall, ' s', 2)} (${rng(dry.wallRange, ' s', 2)}), ${fmt(dry.rssMB, ' MB')}`
        : 'no result',
      peer: '',
      ratio: '',
      goal: '≤ 200 MB',
      met: met(dry ? dry.rssMB <= 200 : null),
    });
  }
  if (e) {
    const base = e['node -e 0'];
    for (const [cmd, limit] of [
      ['recpull --version', 3],
      ['recpull --help', 4],
    ]) {
      const v = e[cmd];
      const ratio = v.wall / base.wall;
      rows.push({
        bench: `(e) ${cmd}: s`,
        recpull: `${fmt(v.wall, ' s', 3)} (${rng(v.wallRange, ' s', 3)}), ${fmt(v.rssMB, ' MB')}`,
        peer: `node -e 0: ${fmt(base.wall, ' s', 3)}, ${fmt(base.rssMB, ' MB')}`,
        ratio: fmt(ratio, '×', 2),
        goal: `≤ ${limit}×`,
        met: met(ratio <= limit),
      });
    }
  }
  if (f)
    rows.push({
      bench: '(f) RingCentral at the Heavy limit: run time ÷ floor',
      recpull: `${fmt(f.ratio, '', 3)} (${rng(f.ratioRange, '', 3)})`,
      peer: 'floor = Heavy requests ÷ rate',
      ratio: fmt(f.ratio, '×', 3),
      goal: '≤ 1.05×',
      met: met(f.ratio <= 1.05),
    });
  if (g)
    rows.push({
      bench: '(g) Noojee, one 500 MB recording: peak RSS',
      recpull: `${fmt(g.peakRssMB, ' MB')}, ${fmt(g.seconds, ' s', 1)}`,
      peer: '',
      ratio: '',
      goal: '< 200 MB',
      met: met(g.peakRssMB < 200),
    });
  return rows;
}

function machine() {
  const cpuinfo = (() => {
    try {
      return spawnSync('cat', ['/proc/cpuinfo'], { encoding: 'utf8' }).stdout;
    } catch {
      return '';
    }
  })();
  return {
    nproc: Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()) || cpus().length,
    memoryGB: +(totalmem() / 2 ** 30).toFixed(1),
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim(),
    curl: opts.peers ? firstLine('curl', ['--version']) : null,
    aria2c: opts.peers ? firstLine('aria2c', ['--version']) : null,
  };
}

function markdown(rows, m, result) {
  const esc = (s) => String(s).replaceAll('|', '\\|');
  const lines = [
    `Machine: ${m.nproc} vCPU (${m.cpu}), ${m.memoryGB} GB RAM, Linux ${m.kernel}, Node ${m.node}; ${m.curl ?? 'curl missing'}; ${m.aria2c ?? 'aria2c not installed'}.`,
    `${result.rounds} round(s), tools alternated in each round; medians, ranges over rounds in brackets; every file checked by size and sha256${result.ok ? '' : ' — VERIFICATION FAILED'}.`,
    '',
    '| benchmark | recpull | peer | ratio | goal | met |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${[r.bench, r.recpull, r.peer, r.ratio, r.goal, r.met].map(esc).join(' | ')} |`),
  ];
  return `${lines.join('\n')}\n`;
}

async function main() {
  const root = await mkdtemp(join(tmpdir(), 'recpull-bench-'));
  const started = performance.now();
  const result = { date: new Date().toISOString(), rounds: opts.rounds, only: [...only], machine: machine() };
  log(`sections ${[...only].join(',')}, ${opts.rounds} round(s); temp ${root}`);
  try {
    if (only.has('a') || only.has('b')) await small(root, result);
    if (only.has('c')) await big(root, result);
    if (only.has('d')) await rerun(result);
    if (only.has('e')) await startup(root, result);
    if (only.has('f')) await ringcentral(result);
    if (only.has('g')) await noojee(result);
  } finally {
    if (!argv.keep) await rm(root, { recursive: true, force: true });
  }
  result.ok = !failed;
  result.minutes = +((performance.now() - started) / 60_000).toFixed(1);
  const rows = goals(result);
  result.goals = rows;
  const md = markdown(rows, result.machine, result);
  process.stdout.write(`\n${md}\n(${result.minutes} min)\n`);
  if (!argv['no-write']) {
    const dir = join(HERE, 'results');
    await mkdir(dir, { recursive: true });
    const day = result.date.slice(0, 10);
    await writeFile(join(dir, `${day}.json`), `${JSON.stringify(result, null, 2)}\n`);
    await writeFile(join(dir, `${day}.md`), md);
    log(`wrote test/bench/results/${day}.json and .md`);
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
