/**
 * `recpull cc-fs` end to end: the CLI as a subprocess against the CC-FS emulator (issue 9's tests 2–10).
 * Assertions are on files, manifests, events, the emulator's request log and exit codes; never durations.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { recordIndexCsv } from '../../src/sandbox/cc-fs/catalogue.js';
import {
  type CcFsSandbox,
  type CcFsSandboxOptions,
  startCcFsSandbox,
} from '../../src/sandbox/cc-fs/index.js';
import { sandboxCertificate } from '../../src/sandbox/server.js';
import { events, manifestLines, runCli, startCli, tempDir, waitFor, writeConfig } from '../helpers/cli.js';

const sandboxes: CcFsSandbox[] = [];
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.close()));
});

async function setup(opts: CcFsSandboxOptions = {}, sk?: string) {
  const sb = await startCcFsSandbox(opts);
  sandboxes.push(sb);
  const dir = await tempDir();
  const ca = join(dir, 'ca.pem');
  await writeFile(ca, sandboxCertificate());
  const config = await writeConfig(
    dir,
    `cc-fs:\n  default:\n    url: ${sb.url}\n    ak: ${sb.ak}\n    sk: "${sk ?? sb.sk}"\n    tz: ${sb.zone}\n` +
      `    tls: { caFile: ${ca} }\n    flowControlPause: 0.3\n    retryBase: 0.02\n`,
  );
  const out = join(dir, 'out');
  const cli = (args: string[]) => runCli(['cc-fs', '-c', config, '-o', out, '--json', ...args], { cwd: dir });
  return { sb, dir, out, config, cli };
}

/** Every file and folder below `dir` (relative), recursively. */
async function below(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }).catch(() => [])).map(String).sort();
}

const downloads = (sb: CcFsSandbox) => sb.log.filter((e) => e.op === 'downloadRecord');

describe('recpull cc-fs', () => {
  it('30 file names and 10 call ids (4 zips → folders) byte-identical; AK/SK in no output, manifest or sidecar', async () => {
    const { sb, dir, out, cli } = await setup();
    const singles = sb.calls.filter((c) => c.recordings.length === 1);
    const multis = sb.calls.filter((c) => c.recordings.length > 1);
    expect(multis).toHaveLength(4);
    const ids = [...multis, ...singles.slice(0, 6)].map((c) => c.callId);
    const list = join(dir, 'list.csv');
    const rows = [...singles.map((c) => `${c.recordings[0]!.fileName},`), ...ids.map((id) => `,${id}`)];
    await writeFile(list, `fileName,callId\n${rows.join('\n')}\n`);
    const r = await cli(['-i', list, '-j', '6', '--metadata']);
    expect(r.code, r.stderr).toBe(0);
    expect(events(r.stdout).at(-1)).toMatchObject({ type: 'run-end', counts: { done: 40, failed: 0 } });
    const lines = await manifestLines(out);
    for (const call of multis) {
      const line = lines.find((l) => l.key === `cc-fs:1:call:${call.callId}`)!;
      const audio = line.files.filter((f) => f.path.endsWith('.wav'));
      expect(audio).toHaveLength(3);
      for (const [i, rec] of call.recordings.entries()) {
        expect(audio[i]!.path).toMatch(
          new RegExp(`^cc-fs/\\d{4}-\\d\\d-\\d\\d/${call.callId}/${rec.entryName}$`),
        );
        expect((await readFile(join(out, audio[i]!.path))).equals(sb.contentOf(rec.fileName))).toBe(true);
      }
      expect(line.files.at(-1)!.path).toMatch(new RegExp(`/${call.callId}\\.json$`));
    }
    for (const c of singles) {
      const rec = c.recordings[0]!;
      const line = lines.find((l) => l.key === `cc-fs:1:file:${rec.fileName}`)!;
      expect((await readFile(join(out, line.files[0]!.path))).equals(sb.contentOf(rec.fileName))).toBe(true);
    }
    expect(await below(join(out, '.recpull', 'staging'))).toEqual([]);
    const texts = [r.stdout, r.stderr, await readFile(join(out, '.recpull', 'manifest.jsonl'), 'utf8')];
    for (const f of (await below(out)).filter((p) => p.endsWith('.json')))
      texts.push(await readFile(join(out, f), 'utf8'));
    for (const t of texts) {
      expect(t.includes(sb.ak)).toBe(false);
      expect(t.includes(sb.sk)).toBe(false);
    }
  });

  it('--index: a recording index CSV, template fields from its columns', async () => {
    const { sb, dir, out, cli } = await setup({ singleCalls: 4, multiCalls: 1 });
    const index = join(dir, '20240601_record.csv');
    await writeFile(index, recordIndexCsv(sb.catalogue, 'dev', 'tenant'));
    const r = await cli(['--index', index, '--template', '{vendor}/{agentId}/{callId}/{name}.{ext}']);
    expect(r.code, r.stderr).toBe(0);
    const lines = await manifestLines(out);
    expect(lines).toHaveLength(sb.catalogue.length);
    for (const rec of sb.catalogue) {
      const base = rec.fileName.split('/').pop()!.replace('.V3', '');
      const path = `cc-fs/${rec.agentId}/${rec.callId}/${base}.wav`;
      expect((await readFile(join(out, path))).equals(sb.contentOf(rec.fileName))).toBe(true);
    }
  });

  it('--bill-file and `cc-fs bills` with the signed callback', async () => {
    const { sb, dir, out, config, cli } = await setup({ singleCalls: 5, multiCalls: 1 });
    const r = await cli(['--bill-file', sb.billFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(events(r.stdout).at(-1)).toMatchObject({ counts: { done: sb.catalogue.length } });
    expect(sb.log.filter((e) => e.op === 'downloadBillFile')).toHaveLength(1);

    const port = await freePort();
    const out2 = join(dir, 'out2');
    const from = new Date(Date.now() - 2.5 * 86400_000).toISOString();
    const b = await runCli(
      [
        'cc-fs',
        'bills',
        '-c',
        config,
        '-o',
        out2,
        '--json',
        '--from',
        from,
        '--to',
        new Date().toISOString(),
        '--callback-listen',
        `127.0.0.1:${port}`,
        '--callback-url',
        `http://127.0.0.1:${port}/cb`,
      ],
      { cwd: dir },
    );
    expect(b.code, b.stderr).toBe(0);
    expect(sb.log.filter((e) => e.op === 'queryBillData')).toHaveLength(1);
    expect(sb.callbacksSent).toMatchObject([{ status: 200 }]);
    expect(events(b.stdout).at(-1)).toMatchObject({ counts: { done: sb.catalogue.length, failed: 0 } });
    expect((await manifestLines(out2)).map((l) => l.key).sort()).toEqual(
      (await manifestLines(out)).map((l) => l.key).sort(),
    );
  });

  it('hostile zips: the item fails, nothing escapes --out or stays half-unpacked, the others complete', async () => {
    const { sb, dir, out, cli } = await setup({ singleCalls: 1, multiCalls: 1 });
    const evil = (['dotdot', 'absolute', 'backslash', 'symlink', 'duplicate', 'bomb'] as const).map(
      (k) => sb.hostileCallIds[k],
    );
    const good = sb.calls.map((c) => c.callId);
    const r = await cli([...[...evil, ...good].flatMap((id) => ['--call-id', id])]);
    expect(r.code, r.stderr).toBe(1);
    const lines = await manifestLines(out);
    for (const id of evil) {
      expect(lines.find((l) => l.key === `cc-fs:1:call:${id}`)).toMatchObject({
        status: 'failed',
        error: { code: 'E_BAD_AUDIO' },
      });
    }
    expect(lines.filter((l) => l.status === 'done')).toHaveLength(2);
    const files = await below(out);
    expect(files.filter((f) => /evil|good\.wav|x\.wav|link|bomb|escape/.test(f))).toEqual([]);
    expect(await below(join(out, '.recpull', 'staging'))).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['ca.pem', 'out', 'recpull.config.yaml']);
  });

  it('flow control: retried, the whole queue paused (rate-limit-wait), everything completes', async () => {
    const { sb, cli } = await setup({ singleCalls: 8, multiCalls: 0 });
    sb.flowControl(3);
    const r = await cli([...sb.catalogue.flatMap((x) => ['--file-name', x.fileName]), '-j', '4']);
    expect(r.code, r.stderr).toBe(0);
    const evs = events(r.stdout);
    expect(evs.at(-1)).toMatchObject({ counts: { done: 8, failed: 0 } });
    expect(
      evs.filter((e) => e.type === 'item-retry' && (e.error as { code: string }).code === 'E_RATE_LIMIT'),
    ).toHaveLength(3);
    expect(evs.filter((e) => e.type === 'rate-limit-wait')[0]).toMatchObject({
      group: 'CC-FS',
      reason: 'penalty',
    });
    const log = downloads(sb);
    expect(log).toHaveLength(8 + 3);
    // The request log: nothing was sent during the pause that followed the last flow-control answer.
    // The request log: the first answer was flow control, and every worker waited the pause (0.3 s) after it.
    expect(log[0]!.answer).toBe('0300008');
    expect(log[1]!.at - log[0]!.at).toBeGreaterThanOrEqual(250);
  });

  it('a wrong SK with -j 8: exit 3 after exactly one request, no secret printed', async () => {
    const { sb, cli } = await setup({ singleCalls: 10, multiCalls: 0 }, 'wrong-secret-key-0000');
    const r = await cli([...sb.catalogue.flatMap((x) => ['--file-name', x.fileName]), '-j', '8']);
    expect(r.code, r.stderr).toBe(3);
    expect(sb.log).toHaveLength(1);
    expect(sb.locked).toBe(false);
    for (const t of [r.stdout, r.stderr]) {
      expect(t).not.toContain('wrong-secret-key-0000');
      expect(t).not.toContain(sb.ak);
    }
  });

  it('kill -9 while a zip is being unpacked, then a re-run: every call folder complete, no staging left', async () => {
    const { sb, dir, out, config } = await setup({
      singleCalls: 0,
      multiCalls: 4,
      faults: { bytesPerSecond: 60_000 },
    });
    const args = [
      'cc-fs',
      '-c',
      config,
      '-o',
      out,
      '--json',
      '-j',
      '4',
      ...sb.calls.flatMap((c) => ['--call-id', c.callId]),
    ];
    const run = startCli(args, { cwd: dir });
    const staging = join(out, '.recpull', 'staging');
    await waitFor(() => nonEmpty(staging), 'a bundle in staging', 30_000);
    run.child.kill('SIGKILL');
    await run.closed;
    const again = await runCli(args, { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    const lines = (await manifestLines(out)).filter((l) => l.status === 'done');
    expect(new Set(lines.map((l) => l.key)).size).toBe(4);
    for (const call of sb.calls) {
      const line = lines.find((l) => l.key === `cc-fs:1:call:${call.callId}`)!;
      expect(line.files).toHaveLength(3);
      for (const [i, rec] of call.recordings.entries())
        expect((await readFile(join(out, line.files[i]!.path))).equals(sb.contentOf(rec.fileName))).toBe(
          true,
        );
    }
    const all = await below(out);
    expect(all.filter((f) => /\.old-\d+|\.part$/.test(f))).toEqual([]);
    const folders = all.filter((f) => /^cc-fs\/[^/]+\/[^/]+$/.test(f)).map((f) => f.split('/')[2]);
    expect(folders.sort()).toEqual(sb.calls.map((c) => c.callId).sort()); // no `-2` twin of a folder
    expect(existsSync(staging) ? await readdir(staging) : []).toEqual([]);
  });
});

/** Whether a folder has an entry (synchronously, for waitFor). */
function nonEmpty(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

/** A TCP port free right now on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
