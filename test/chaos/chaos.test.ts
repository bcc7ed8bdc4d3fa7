/**
 * Issue 7, the chaos run: every fault of the sandbox at once (resets, truncation, 5xx, 429, HTML with
 * status 200) on 300 recordings over two vendors (150 TIM Plus from an -i list, 150 RingCentral from the
 * default range), each vendor in its own --out, three `kill -9` at seeded moments during the first runs,
 * then re-runs until exit 0 (at most 6 runs per vendor). Afterwards: every recording whole, none twice,
 * no `.part` anywhere, manifest and disk in agreement, and every finished run's counts adding up.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prng } from '../../src/sandbox/catalogue.js';
import type { FaultPlan } from '../../src/sandbox/faults.js';
import { type RingCentralSandbox, startRingCentralSandbox } from '../../src/sandbox/ringcentral/index.js';
import { startTimplusSandbox, type TimplusSandbox } from '../../src/sandbox/timplus/index.js';
import {
  type CliResult,
  events,
  filesBelow,
  manifestLines,
  startCli,
  tempDir,
  writeConfig,
} from '../helpers/cli.js';

const PER_VENDOR = 150;
const MAX_RUNS = 6;
const FAULTS: FaultPlan = {
  seed: 11,
  reset: { rate: 0.06 },
  truncate: { rate: 0.04 },
  serverError: { rate: 0.05, status: 503 },
  tooMany: { rate: 0.03, retryAfterS: 1 },
  html: { rate: 0.03 },
};

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Vendor {
  name: string;
  args: string[];
  dir: string;
  out: string;
  /** Expected bytes by manifest key. */
  expected: Map<string, Buffer>;
  /** The kinds of fault the emulator injected. */
  faults(): Set<string>;
}

interface RunRecord {
  vendor: string;
  killed: boolean;
  result: CliResult;
}

/**
 * Runs `v` until exit 0 (at most MAX_RUNS runs); the runs numbered in `kills` are killed with SIGKILL once
 * a seeded number of recordings finished in them.
 */
async function runUntilDone(v: Vendor, kills: number[], random: () => number): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  let finished = 0;
  for (let n = 0; n < MAX_RUNS; n++) {
    const cli = startCli([v.name, ...v.args, '-o', v.out, '-j', '8', '--json'], { cwd: v.dir });
    const killAfter = kills.includes(n) ? 1 + Math.floor(random() * ((PER_VENDOR - finished) / 2)) : Infinity;
    let killed = false;
    let seen = 0;
    cli.child.stdout?.on('data', (d: Buffer) => {
      seen += (String(d).match(/"type":"item-done"/g) ?? []).length;
      if (!killed && seen >= killAfter) {
        killed = true;
        cli.child.kill('SIGKILL');
      }
    });
    const timer = setTimeout(() => cli.child.kill('SIGKILL'), 60_000);
    const result = await cli.closed;
    clearTimeout(timer);
    runs.push({ vendor: v.name, killed, result });
    finished = (await manifestLines(v.out)).filter((l) => l.status === 'done').length;
    if (result.code === 0) break;
  }
  return runs;
}

async function timplusVendor(): Promise<Vendor> {
  const sb: TimplusSandbox = await startTimplusSandbox({
    recordings: PER_VENDOR,
    minBytes: 3000,
    maxBytes: 9000,
    faults: FAULTS,
  });
  closers.push(() => sb.close());
  const dir = await tempDir('recpull-chaos-tp-');
  const config = await writeConfig(
    dir,
    `timplus:\n  default:\n    url: ${sb.url}\n    username: ${sb.username}\n    password: "${sb.password}"\n    retryBase: 0.02\n`,
  );
  const list = join(dir, 'calls.csv');
  const rows = sb.catalogue.map((r) => `${r.datasource},${r.voicelocation},${r.voicefilename}`);
  await writeFile(list, `datasource,voicelocation,voicefilename\n${rows.join('\n')}\n`);
  const expected = new Map(
    sb.catalogue.map((r) => [
      `timplus:${r.datasource}:${r.voicelocation}:${r.voicefilename}`,
      sb.contentOf(r),
    ]),
  );
  const faults = () => new Set(sb.log.flatMap((e) => (e.fault ? [e.fault] : [])));
  return { name: 'timplus', args: ['-c', config, '-i', list], dir, out: join(dir, 'out'), expected, faults };
}

async function ringcentralVendor(): Promise<Vendor> {
  const now = Date.now();
  const sb: RingCentralSandbox = await startRingCentralSandbox({
    recordings: PER_VENDOR,
    minBytes: 3000,
    maxBytes: 9000,
    from: new Date(now - 20 * 3600_000),
    to: new Date(now - 20 * 60_000),
    heavy: { limit: 10_000, windowS: 1, penaltyS: 1 },
    // Truncation too: an MP3 cut under a matching Content-Length is caught by the validator's frame walk.
    faults: FAULTS,
  });
  closers.push(() => sb.close());
  const dir = await tempDir('recpull-chaos-rc-');
  const config = await writeConfig(
    dir,
    `ringcentral:\n  default:\n    retryBase: 0.02\n    server: '${sb.url}'\n    mediaServer: '${sb.mediaUrl}'\n    clientId: '${sb.clientId}'\n    clientSecret: '${sb.clientSecret}'\n    jwt: '${sb.jwt}'\n`,
  );
  const expected = new Map(
    sb.catalogue.map((r) => [`ringcentral:${sb.accountId}:${r.id}`, sb.contentOf(r.id)]),
  );
  const faults = () => new Set(sb.log.flatMap((e) => (e.fault ? [e.fault] : [])));
  return { name: 'ringcentral', args: ['-c', config], dir, out: join(dir, 'out'), expected, faults };
}

/** Whole, once, no `.part`, manifest = disk. */
async function expectConsistent(v: Vendor): Promise<void> {
  const last = new Map((await manifestLines(v.out)).map((l) => [l.key, l]));
  expect(new Set(last.keys())).toEqual(new Set(v.expected.keys()));
  const listed = new Map<string, string>(); // path → sha256 of every done line
  for (const [key, bytes] of v.expected) {
    const line = last.get(key);
    expect(line?.status, `${v.name} ${key}`).toBe('done');
    expect(line?.files).toHaveLength(1);
    const file = line?.files[0] as { path: string; sha256: string; bytes: number };
    expect(file.sha256, `${v.name} ${key} manifest hash`).toBe(sha(bytes));
    expect(file.bytes).toBe(bytes.length);
    expect(listed.has(file.path), `${file.path} listed twice`).toBe(false);
    listed.set(file.path, file.sha256);
  }
  const all = await filesBelow(v.out, true);
  expect(all.filter((f) => f.endsWith('.part'))).toEqual([]); // .part and .json.part
  const onDisk = await filesBelow(v.out);
  expect(onDisk.sort()).toEqual([...listed.keys()].sort()); // nothing unlisted, nothing missing
  expect(onDisk.filter((f) => /-\d{1,3}\.[a-z0-9]+$/.test(f))).toEqual([]); // no -2 twin of a key
  for (const f of onDisk) expect(sha(await readFile(join(v.out, f))), f).toBe(listed.get(f));
}

/** A run that was not killed ended with run-end, its counts adding up to what was listed. */
function expectCountsAddUp(run: RunRecord): void {
  const { result } = run;
  if (run.killed) {
    expect(result.signal).toBe('SIGKILL');
    return;
  }
  expect(result.signal, `${run.vendor}: ${result.stderr}`).toBeNull();
  const end = events(result.stdout).at(-1) as {
    type: string;
    exitCode: number;
    counts: { done: number; skipped: number; failed: number };
  };
  expect(end.type).toBe('run-end');
  expect(end.exitCode).toBe(result.code);
  const { done, skipped, failed } = end.counts;
  if (result.code === 0) {
    expect(failed).toBe(0);
    expect(done + skipped).toBe(PER_VENDOR);
  } else {
    expect(result.code).toBe(1);
    expect(failed).toBeGreaterThan(0);
    expect(done + skipped + failed).toBe(PER_VENDOR);
  }
}

describe('chaos', () => {
  it('all faults at once, three kill -9, re-runs until exit 0: every recording whole and listed once', async () => {
    const [tp, rc] = await Promise.all([timplusVendor(), ringcentralVendor()]);
    const [tpRuns, rcRuns] = await Promise.all([
      runUntilDone(tp, [0, 1], prng(20240607)),
      runUntilDone(rc, [0], prng(7)),
    ]);
    const runs = [...tpRuns, ...rcRuns];
    expect(tp.faults()).toEqual(new Set(['reset', 'truncate', 'serverError', 'tooMany', 'html']));
    expect(rc.faults()).toEqual(new Set(['reset', 'truncate', 'serverError', 'tooMany', 'html']));
    expect(runs.filter((r) => r.killed)).toHaveLength(3);
    expect(tpRuns.at(-1)?.result.code, tpRuns.at(-1)?.result.stderr).toBe(0);
    expect(rcRuns.at(-1)?.result.code, rcRuns.at(-1)?.result.stderr).toBe(0);
    for (const run of runs) expectCountsAddUp(run);
    await expectConsistent(tp);
    await expectConsistent(rc);
  }, 120_000);
});
