/**
 * Throughput/memory benchmark of `recpull timplus` against the TIM Plus emulator, with curl doing the same
 * two-step protocol at the same concurrency measured in the same run, plus `recpull demo` throughput.
 * `npm run bench` builds first; then: node test/bench/run.mjs [flags]
 *
 *   --recordings N   (BENCH_RECORDINGS, default 200)    recordings in the emulator's catalogue
 *   --min-kb N       (BENCH_MIN_KB, default 200)        smallest recording, kB (1000 bytes)
 *   --max-kb N       (BENCH_MAX_KB, default 2000)       largest recording, kB
 *   -j N             (BENCH_CONCURRENCY, default 8)     recpull -j and curl's xargs -P
 *   --rounds N       (BENCH_ROUNDS, default 3)          recpull/curl pairs, alternating; medians reported
 *   --demo-runs N    (BENCH_DEMO_RUNS, default 3)       `recpull demo` runs (0 = skip); median reported
 *   --no-curl                                           skip the curl reference
 *   --cpu-prof                                          one more recpull run under --cpu-prof; top self time
 *   --keep                                              keep the temp folder
 *
 * Every downloaded file (recpull's and curl's) is checked byte for byte (sha256) against the emulator's
 * content, so a fast wrong result fails the benchmark (exit 1). Output: a table, then one JSON line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startTimplusSandbox } from '../../dist/sandbox/timplus/index.js';
import { printSummary } from './cpuprofile.mjs';

const BIN = fileURLToPath(new URL('../../bin/recpull.js', import.meta.url));
const GNU_TIME = '/usr/bin/time';

const { values: argv } = parseArgs({
  options: {
    recordings: { type: 'string' },
    'min-kb': { type: 'string' },
    'max-kb': { type: 'string' },
    concurrency: { type: 'string', short: 'j' },
    rounds: { type: 'string' },
    'demo-runs': { type: 'string' },
    'no-curl': { type: 'boolean' },
    'cpu-prof': { type: 'boolean' },
    keep: { type: 'boolean' },
  },
});
const int = (flag, env, def) => {
  const v = Number(argv[flag] ?? process.env[env] ?? def);
  if (!Number.isInteger(v) || v < 0)
    throw new Error(`--${flag}: not a whole number: ${argv[flag] ?? process.env[env]}`);
  return v;
};
const opts = {
  recordings: int('recordings', 'BENCH_RECORDINGS', 200),
  minKb: int('min-kb', 'BENCH_MIN_KB', 200),
  maxKb: int('max-kb', 'BENCH_MAX_KB', 2000),
  concurrency: int('concurrency', 'BENCH_CONCURRENCY', 8),
  rounds: Math.max(1, int('rounds', 'BENCH_ROUNDS', 3)),
  demoRuns: int('demo-runs', 'BENCH_DEMO_RUNS', 3),
  withCurl: !argv['no-curl'],
  cpuProf: Boolean(argv['cpu-prof']),
};

const log = (s) => process.stderr.write(`bench: ${s}\n`);
const sha = (b) => createHash('sha256').update(b).digest('hex');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const which = (cmd) =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null;

/**
 * Runs a command to completion: wall ms, exit code, stdout/stderr, and peak RSS in kB of the measured
 * process (GNU time's %M when /usr/bin/time exists, else VmHWM polled from /proc every 20 ms).
 */
async function measure(cmd, args, { cwd, env, rss = true, stdin } = {}) {
  const useTime = rss && existsSync(GNU_TIME);
  const timeFile = useTime ? join(cwd, `.time-${process.hrtime.bigint()}`) : undefined;
  const [file, fargs] = useTime ? [GNU_TIME, ['-f', '%M', '-o', timeFile, cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const child = spawn(file, fargs, { cwd, env, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (stdin) child.stdin.end(stdin);
  let hwm = 0;
  const poll =
    rss && !useTime
      ? setInterval(async () => {
          const st = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
          const m = /VmHWM:\s+(\d+) kB/.exec(st);
          if (m) hwm = Math.max(hwm, Number(m[1]));
        }, 20)
      : undefined;
  const out = [];
  const err = [];
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, sig) => resolve(c ?? sig));
  });
  const ms = performance.now() - t0;
  if (poll) clearInterval(poll);
  let rssKb = rss ? hwm : undefined;
  if (useTime) {
    const t = await readFile(timeFile, 'utf8').catch(() => '');
    const lines = t.trim().split('\n');
    rssKb = Number(lines.at(-1)) || undefined; // earlier lines: "Command exited with non-zero status"
    await rm(timeFile, { force: true });
  }
  return {
    ms,
    code,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
    rssKb,
  };
}

const env = (home) => ({
  PATH: process.env.PATH,
  HOME: home,
  XDG_CONFIG_HOME: join(home, '.config'),
  NO_COLOR: '1',
  LC_ALL: 'C',
});

async function main() {
  const root = await mkdtemp(join(tmpdir(), 'recpull-bench-'));
  log(
    `${opts.recordings} recordings of ${opts.minKb}-${opts.maxKb} kB, -j ${opts.concurrency}, ${opts.rounds} round(s); temp ${root}`,
  );
  const sandbox = await startTimplusSandbox({
    recordings: opts.recordings,
    minBytes: opts.minKb * 1000,
    maxBytes: opts.maxKb * 1000,
    scheme: 'digest',
  });
  let failed = false;
  const result = { node: process.version, ...opts };
  try {
    // Generate (and cache) every body before timing anything, and remember the expected hashes.
    const t0 = performance.now();
    const expected = new Map();
    let totalBytes = 0;
    for (const rec of sandbox.catalogue) {
      const body = sandbox.contentOf(rec);
      expected.set(rec.voicefilename, { bytes: body.length, sha256: sha(body) });
      totalBytes += body.length;
    }
    log(
      `generated ${(totalBytes / 1e6).toFixed(1)} MB of WAV in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    result.totalMB = +(totalBytes / 1e6).toFixed(2);

    const config = join(root, 'recpull.config.yaml');
    await writeFile(
      config,
      `timplus:\n  default:\n    url: ${sandbox.url}\n    username: ${sandbox.username}\n    password: "${sandbox.password}"\n`,
      { mode: 0o600 },
    );
    const list = join(root, 'calls.csv');
    await writeFile(
      list,
      `datasource,voicelocation,voicefilename\n${sandbox.catalogue.map((r) => `${r.datasource},${r.voicelocation},${r.voicefilename}`).join('\n')}\n`,
    );

    /** Checks recpull's output folder through its manifest: every recording done, identical bytes. */
    const verifyRecpull = async (out) => {
      const lines = (await readFile(join(out, '.recpull', 'manifest.jsonl'), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const last = new Map(lines.map((l) => [l.key, l]));
      const bad = [];
      for (const rec of sandbox.catalogue) {
        const line = last.get(`timplus:${rec.datasource}:${rec.voicelocation}:${rec.voicefilename}`);
        const want = expected.get(rec.voicefilename);
        const path = line?.status === 'done' ? line.files?.[0]?.path : undefined;
        const got = path ? await readFile(join(out, path)).catch(() => undefined) : undefined;
        if (!got || got.length !== want.bytes || sha(got) !== want.sha256) bad.push(rec.voicefilename);
      }
      return bad;
    };
    const verifyCurl = async (out) => {
      const bad = [];
      for (const rec of sandbox.catalogue) {
        const want = expected.get(rec.voicefilename);
        const got = await readFile(join(out, `${rec.voicefilename}.wav`)).catch(() => undefined);
        if (!got || got.length !== want.bytes || sha(got) !== want.sha256) bad.push(rec.voicefilename);
      }
      return bad;
    };

    const recpullArgs = (out) => [
      'timplus',
      '-c',
      config,
      '-i',
      list,
      '-o',
      out,
      '-j',
      String(opts.concurrency),
      '--no-progress',
      '--json',
    ];
    const runRecpull = async (n) => {
      const out = join(root, `recpull-${n}`);
      const r = await measure(process.execPath, [BIN, ...recpullArgs(out)], { cwd: root, env: env(root) });
      const end = r.stdout
        .trim()
        .split('\n')
        .map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            return {};
          }
        })
        .findLast((e) => e.type === 'run-end');
      const bad = await verifyRecpull(out);
      if (r.code !== 0 || bad.length) {
        failed = true;
        log(
          `recpull run ${n}: exit ${r.code}, ${bad.length} wrong/missing file(s) ${bad.slice(0, 3).join(' ')}`,
        );
        log(r.stderr.split('\n').slice(-5).join('\n'));
      }
      await rm(out, { recursive: true, force: true });
      log(
        `recpull #${n}: ${(r.ms / 1000).toFixed(2)} s, peak RSS ${((r.rssKb ?? 0) / 1024).toFixed(0)} MB, verified`,
      );
      return { ms: r.ms, rssKb: r.rssKb, counts: end?.counts };
    };

    const curlBin = opts.withCurl ? which('curl') : null;
    const fetchSh = join(root, 'fetch.sh');
    const curlList = join(root, 'curl-list.txt');
    if (curlBin) {
      // The same two steps recpull takes: getvmsg with Digest as the web user, then the token URL unauthenticated.
      await writeFile(
        fetchSh,
        [
          '#!/bin/sh',
          '# $1 datasource, $2 voicelocation, $3 voicefilename; BASE, TP_USER, TP_PASS, OUT from the environment',
          'set -e',
          'url=$(curl -sS --fail --digest -u "$TP_USER:$TP_PASS" "$BASE/voice.wav?cmd=getvmsg&datasource=$1&recordingid=$3&voicelocation=$2&salt=1")',
          'curl -sS --fail -o "$OUT/$3.wav" "$url"',
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      await writeFile(
        curlList,
        `${sandbox.catalogue.map((r) => `${r.datasource} ${r.voicelocation} ${r.voicefilename}`).join('\n')}\n`,
      );
    } else if (opts.withCurl) {
      log('curl not found on PATH: skipping the curl reference (apt-get install -y curl to get it)');
    }
    const runCurl = async (n) => {
      const out = join(root, `curl-${n}`);
      await mkdir(out);
      const r = await measure('xargs', ['-P', String(opts.concurrency), '-n', '3', 'sh', fetchSh], {
        cwd: root,
        env: {
          ...env(root),
          BASE: sandbox.url,
          TP_USER: sandbox.username,
          TP_PASS: sandbox.password,
          OUT: out,
        },
        rss: false,
        stdin: await readFile(curlList),
      });
      const bad = await verifyCurl(out);
      if (r.code !== 0 || bad.length) {
        failed = true;
        log(
          `curl run ${n}: exit ${r.code}, ${bad.length} wrong/missing file(s); ${r.stderr.split('\n').slice(-3).join(' | ')}`,
        );
      }
      await rm(out, { recursive: true, force: true });
      log(`curl    #${n}: ${(r.ms / 1000).toFixed(2)} s, verified`);
      return { ms: r.ms };
    };

    // Alternate the two so drift (page cache, thermal, the other developer's jobs) hits both alike.
    const rp = [];
    const cu = [];
    for (let i = 1; i <= opts.rounds; i++) {
      if (curlBin) cu.push(await runCurl(i));
      rp.push(await runRecpull(i));
    }
    const rpMs = median(rp.map((r) => r.ms));
    const rate = (ms) => ({
      seconds: +(ms / 1000).toFixed(3),
      recPerS: +(opts.recordings / (ms / 1000)).toFixed(1),
      MBPerS: +(totalBytes / 1e6 / (ms / 1000)).toFixed(1),
    });
    result.recpull = { ...rate(rpMs), peakRssMB: +(median(rp.map((r) => r.rssKb ?? 0)) / 1024).toFixed(1) };
    if (curlBin) {
      const cuMs = median(cu.map((r) => r.ms));
      result.curl = rate(cuMs);
      result.ratioRecpullToCurl = +(rpMs / cuMs).toFixed(2);
    } else result.curl = null;

    // recpull demo: its own in-process emulators (60 recordings of 100 kB-2 MB, 5% resets by default).
    const demo = [];
    for (let i = 1; i <= opts.demoRuns; i++) {
      const out = join(root, `demo-${i}`);
      const r = await measure(process.execPath, [BIN, 'demo', '--no-progress', '--out', out], {
        cwd: root,
        env: env(root),
      });
      // The last summary line (the plain renderer also prints an interim one every 10 s).
      const m = [
        ...r.stderr.matchAll(
          /(\d+) done, (\d+) skipped, (\d+) failed, ([\d.]+) (B|kB|MB|GB) in (?:(\d+)m)?([\d.]+)s \(([\d.]+) (B|kB|MB|GB)\/s\)/g,
        ),
      ].at(-1);
      await rm(out, { recursive: true, force: true });
      if (r.code !== 0 || !m) {
        failed = true;
        log(
          `demo run ${i}: exit ${r.code}, summary line not found: ${r.stderr.split('\n').slice(-3).join(' | ')}`,
        );
        continue;
      }
      const unit = { B: 1e-6, kB: 1e-3, MB: 1, GB: 1e3 };
      const secs = Number(m[6] ?? 0) * 60 + Number(m[7]);
      demo.push({
        done: Number(m[1]),
        secs,
        recPerS: Number(m[1]) / secs,
        MBPerS: Number(m[8]) * unit[m[9]],
        rssKb: r.rssKb,
      });
      log(`demo    #${i}: ${m[0]}`);
    }
    result.demo = demo.length
      ? {
          runs: demo.length,
          recordings: demo[0].done,
          seconds: +median(demo.map((d) => d.secs)).toFixed(2),
          recPerS: +median(demo.map((d) => d.recPerS)).toFixed(1),
          MBPerS: +median(demo.map((d) => d.MBPerS)).toFixed(1),
          peakRssMB: +(median(demo.map((d) => d.rssKb ?? 0)) / 1024).toFixed(1),
        }
      : null;

    if (opts.cpuProf) {
      const profDir = join(root, 'cpuprof');
      const out = join(root, 'recpull-prof');
      const r = await measure(
        process.execPath,
        ['--cpu-prof', '--cpu-prof-dir', profDir, BIN, ...recpullArgs(out)],
        { cwd: root, env: env(root), rss: false },
      );
      const bad = await verifyRecpull(out);
      log(`profiled recpull run: ${(r.ms / 1000).toFixed(2)} s, exit ${r.code}, ${bad.length} bad file(s)`);
      const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        const keep = join(tmpdir(), `recpull-bench-${Date.now()}.cpuprofile`);
        await writeFile(keep, await readFile(join(profDir, file)));
        printSummary(JSON.parse(await readFile(keep, 'utf8')), 20, (s) => process.stdout.write(`${s}\n`));
        process.stdout.write(`(profile kept: ${keep})\n`);
        result.cpuProfile = keep;
      }
    }

    // Table, then the one-line JSON.
    const row = (name, r, extra = '') =>
      `${name.padEnd(22)}${r ? `${(r.seconds ?? 0).toFixed(2).padStart(9)}${String(r.recPerS).padStart(9)}${String(r.MBPerS).padStart(9)}${String(r.peakRssMB ?? '-').padStart(13)}` : '   skipped'}${extra}`;
    const lines = [
      `${'benchmark'.padEnd(22)}${'wall s'.padStart(9)}${'rec/s'.padStart(9)}${'MB/s'.padStart(9)}${'peak RSS MB'.padStart(13)}`,
      row(`recpull timplus -j ${opts.concurrency}`, result.recpull),
      row(`curl xargs -P ${opts.concurrency}`, result.curl),
      row(
        `recpull demo (x${result.demo?.runs ?? 0})`,
        result.demo,
        result.demo ? `  (${result.demo.recordings} rec, 5% resets)` : '',
      ),
      `${opts.recordings} recordings, ${result.totalMB} MB; recpull/curl time ratio: ${result.ratioRecpullToCurl ?? 'n/a'}${failed ? '  VERIFICATION FAILED' : ''}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    result.ok = !failed;
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await sandbox.close();
    if (!argv.keep) await rm(root, { recursive: true, force: true });
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
