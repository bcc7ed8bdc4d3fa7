/**
 * CLI behaviour shared by every vendor, run as a subprocess: Ctrl-C, dry run, metadata sidecars,
 * `config check`, `status`, `demo`, help, and the Node version guard.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sandboxCertificate } from '../../src/sandbox/server.js';
import { startTimplusSandbox, type TimplusSandbox } from '../../src/sandbox/timplus/index.js';
import {
  BIN,
  events,
  manifestLines,
  runCli,
  startCli,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers/cli.js';

const sandboxes: TimplusSandbox[] = [];

/** The machine's own Node when it is older than recpull needs (Debian's is 20), else undefined. */
const OLD_NODE = (() => {
  try {
    const v = execFileSync('/usr/bin/node', ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    const [major = 0, minor = 0] = v.split('.').map(Number);
    return major < 22 || (major === 22 && minor < 19) ? '/usr/bin/node' : undefined;
  } catch {
    return undefined;
  }
})();
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.close()));
});

async function setup(opts: Parameters<typeof startTimplusSandbox>[0] = {}) {
  const sandbox = await startTimplusSandbox({ recordings: 12, ...opts });
  sandboxes.push(sandbox);
  const dir = await tempDir();
  const config = await writeConfig(
    dir,
    `timplus:\n  default:\n    url: ${sandbox.url}\n    username: ${sandbox.username}\n    password: ${sandbox.password}\n    retryBase: 0.02\n`,
  );
  const list = join(dir, 'calls.csv');
  await writeFile(
    list,
    `datasource,voicelocation,voicefilename,agent\n${sandbox.catalogue.map((r, i) => `${r.datasource},${r.voicelocation},${r.voicefilename},agent${i % 3}`).join('\n')}\n`,
  );
  return { sandbox, dir, config, list, out: join(dir, 'out') };
}

async function partsBelow(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return all.filter((f) => f.endsWith('.part'));
}

describe('recpull CLI', () => {
  it('Ctrl-C stops, removes .part files, keeps the manifest consistent, says how to resume and exits 130', async () => {
    const s = await setup({
      minBytes: 200_000,
      maxBytes: 300_000,
      faults: { bytesPerSecond: 300_000, times: Number.POSITIVE_INFINITY },
    });
    const cli = startCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '-j', '3', '--no-progress'], {
      cwd: s.dir,
    });
    await waitFor(() => cli.stderr().includes('done '), 'a first finished recording');
    cli.child.kill('SIGINT');
    const { code, stderr } = await cli.closed;
    expect(code).toBe(130);
    expect(stderr).toContain('Run the same command again to resume');
    expect(await partsBelow(s.out)).toEqual([]);
    const lines = await manifestLines(s.out);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(12);
    expect(lines.every((l) => l.status === 'done')).toBe(true);
    s.sandbox.setFaults({});
    const rerun = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], {
      cwd: s.dir,
    });
    expect(rerun.code).toBe(0);
    expect(events(rerun.stdout).at(-1)).toMatchObject({
      counts: { done: 12 - lines.length, skipped: lines.length },
    });
  });

  it('--dry-run lists what would be fetched and writes nothing', async () => {
    const s = await setup();
    const r = await runCli(
      ['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--dry-run', '--no-progress'],
      { cwd: s.dir },
    );
    expect(r.code).toBe(0);
    expect(r.stderr.match(/would fetch timplus:/g)).toHaveLength(12);
    expect(existsSync(s.out)).toBe(false);
    expect(s.sandbox.log.filter((e) => e.path === '/voice.wav')).toHaveLength(0);
  });

  it('--metadata writes a JSON sidecar; extra input columns are template fields', async () => {
    const s = await setup({ recordings: 3 });
    const r = await runCli(
      [
        'timplus',
        '-c',
        s.config,
        '-i',
        s.list,
        '-o',
        s.out,
        '--metadata',
        '--template',
        '{agent}/{voicefilename}.{ext}',
        '--json',
      ],
      {
        cwd: s.dir,
      },
    );
    expect(r.code).toBe(0);
    const lines = await manifestLines(s.out);
    for (const l of lines) {
      expect(l.files.map((f) => f.path.split('.').pop())).toEqual(['wav', 'json']);
      expect(l.files[0]?.path).toMatch(/^agent\d\//);
      const meta = JSON.parse(await readFile(join(s.out, l.files[1]?.path as string), 'utf8'));
      expect(l.key).toContain(meta.voicefilename);
    }
  });

  it('a template with an unknown field is a usage error (exit 2) before anything is fetched', async () => {
    const s = await setup();
    const r = await runCli(
      [
        'timplus',
        '-c',
        s.config,
        '--datasource',
        '3',
        '--voicelocation',
        '4',
        '--voicefilename',
        'x',
        '-o',
        s.out,
        '--template',
        '{nope}.{ext}',
      ],
      {
        cwd: s.dir,
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('{nope}');
    expect(s.sandbox.log).toHaveLength(0);
  });

  it('config check prints the profile with the password redacted; an unknown profile exits 2', async () => {
    const s = await setup();
    const r = await runCli(['config', 'check', 'timplus', '-c', s.config], { cwd: s.dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(s.sandbox.url);
    expect(r.stdout).not.toContain(s.sandbox.password);
    expect(r.stdout).toContain('***');
    expect(r.stdout.split('\n').filter((l) => l === `# ${s.config}`)).toHaveLength(1); // the file, said once
    const bad = await runCli(['config', 'check', 'timplus', '-c', s.config, '-p', 'nosuch'], { cwd: s.dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('default');
  });

  it('a run loads recpull from the build’s bundle, not from the module tree or the packages’ files', async () => {
    const s = await setup({ recordings: 2 });
    const log = join(s.dir, 'loaded.txt');
    const hook = join(s.dir, 'hook.mjs');
    await writeFile(
      hook,
      `import { registerHooks } from 'node:module';
       import { appendFileSync } from 'node:fs';
       registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); } });`,
    );
    const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], {
      cwd: s.dir,
      env: { NODE_OPTIONS: `--import ${hook}` },
    });
    expect(r.code).toBe(0);
    const files = (await readFile(log, 'utf8')).split('\n').filter((u) => u.startsWith('file:'));
    expect(files.some((u) => u.endsWith('/dist/bundle/main.js'))).toBe(true);
    // besides the launcher, only the bundle's chunks and the dependencies loaded on first use
    const lazy = ['csv-parse', 'undici'];
    const others = files.filter(
      (u) => !/\/bin\/(recpull|v8-flags|compile-cache)\.js$/.test(u) && !u.includes('/dist/bundle/'),
    );
    expect(others.filter((u) => !lazy.some((name) => u.includes(`/node_modules/${name}/`)))).toEqual([]);
  });

  it('the npm package holds what an installed recpull loads or reads: the launcher, the bundle, the sandbox’s TLS files', () => {
    // `recpull demo` from an installed package crashed reading src/sandbox/*.pem, which "files" left out
    const root = join(BIN, '..', '..');
    const listing = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const files = new Set(
      (JSON.parse(listing) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path),
    );
    for (const f of [
      'bin/recpull.js',
      'bin/v8-flags.js',
      'bin/compile-cache.js',
      'dist/bundle/main.js',
      'src/sandbox/sandbox-cert.pem',
      'src/sandbox/sandbox-key.pem',
      'config.example.yaml',
    ])
      expect(files.has(f), f).toBe(true);
  });

  it.skipIf(process.platform === 'win32')(
    'keeps the compile cache in the account’s own cache folder, never the shared temp folder, and not in one others may write',
    async () => {
      const home = await tempDir();
      const shared = join(home, 'tmp');
      await mkdir(shared);
      const env = { HOME: home, XDG_CACHE_HOME: undefined, TMPDIR: shared };
      expect((await runCli(['--version'], { cwd: home, env })).code).toBe(0);
      const cache = join(home, '.cache', 'recpull', 'compile-cache');
      expect((await readdir(cache, { recursive: true })).length).toBeGreaterThan(0);
      expect((await stat(cache)).mode & 0o777).toBe(0o700);
      expect(await readdir(shared)).toEqual([]); // Node's default would be $TMPDIR/node-compile-cache
      // a recpull folder that others may write (made by someone else first): no cache at all
      const open = join(home, 'open');
      await mkdir(join(open, 'recpull'), { recursive: true });
      await chmod(join(open, 'recpull'), 0o777);
      expect((await runCli(['--version'], { cwd: home, env: { ...env, XDG_CACHE_HOME: open } })).code).toBe(
        0,
      );
      expect(await readdir(join(open, 'recpull', 'compile-cache'), { recursive: true })).toEqual([]);
      expect(await readdir(shared)).toEqual([]);
    },
  );

  it('finds recpull.config.yaml in the working folder without --config', async () => {
    const s = await setup({ recordings: 2 });
    const r = await runCli(['timplus', '-i', s.list, '-o', s.out, '--json'], { cwd: s.dir });
    expect(r.code).toBe(0);
  });

  it('status summarises done, failed and bytes, as text and JSON', async () => {
    const s = await setup({ recordings: 4, htmlFor: [] });
    await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], { cwd: s.dir });
    const text = await runCli(['status', s.out]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/done:\s+4/);
    const json = await runCli(['status', s.out, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ done: 4, failed: 0 });
    expect(JSON.parse(json.stdout).bytes).toBeGreaterThan(0);
  });

  it('demo pulls from the built-in sandbox and says where the files are', async () => {
    const dir = await tempDir();
    const r = await runCli(['demo', '--recordings', '8', '--no-progress', '--out', join(dir, 'demo')], {
      cwd: dir,
      timeoutMs: 60_000,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/8 done/);
    expect(r.stderr).toContain(join(dir, 'demo'));
    const done = (await manifestLines(join(dir, 'demo'))).filter((l) => l.status === 'done');
    expect(done.filter((l) => l.key.startsWith('timplus:'))).toHaveLength(8);
    expect(done.filter((l) => l.key.startsWith('ringcentral:'))).toHaveLength(8);
  });

  it('--help shows examples; a bad flag value is a usage error', async () => {
    const help = await runCli(['timplus', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    const bad = await runCli(['timplus', '-j', 'lots', '-i', 'x.csv']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('whole number');
  });

  it('values that mean nothing are usage errors before anything is sent: empty -o or --template, a template of "." or a stray brace, a zero --attempt-timeout, a size past 8 PiB', async () => {
    const s = await setup();
    const cases: [string[], string][] = [
      [['-o', ''], 'expected a folder, not an empty string'],
      [['--template', ''], 'expected a template, not an empty string'],
      [['--template', '.'], 'must end in a file name'],
      [['--template', './/.'], 'must end in a file name'],
      [['--template', '{'], 'is not part of a {field}'],
      [['--template', '{agent/{name}.{ext}'], 'is not part of a {field}'],
      [['--attempt-timeout', '0'], 'expected a duration above 0'],
      [['--max-size', '99999999999999999999T'], 'expected a size below 8 PiB'],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli(
        ['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--no-progress', ...flags],
        {
          cwd: s.dir,
        },
      );
      expect(r.code, `${flags.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(message);
    }
    expect(s.sandbox.log).toEqual([]);
    expect(existsSync(s.out)).toBe(false);
  });

  it('an input file that does not exist is an input error (exit 2)', async () => {
    const s = await setup();
    const r = await runCli(['timplus', '-c', s.config, '-i', join(s.dir, 'nope.csv'), '-o', s.out], {
      cwd: s.dir,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nope.csv');
  });

  it('with --json, a run stopped before it began still ends in run-end: its exit code and error (input, profile, flags)', async () => {
    const s = await setup();
    const missing = await runCli(
      ['timplus', '-c', s.config, '-i', join(s.dir, 'nope.csv'), '-o', s.out, '--json'],
      { cwd: s.dir },
    );
    const unknown = await runCli(
      ['timplus', '-c', s.config, '-p', 'nosuch', '-i', join(s.dir, 'nope.csv'), '-o', s.out, '--json'],
      { cwd: s.dir },
    );
    for (const [r, code] of [
      [missing, 'E_INPUT'],
      [unknown, 'E_CONFIG'],
    ] as const) {
      expect(r.code).toBe(2);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({
        type: 'run-end',
        counts: { done: 0, skipped: 0, failed: 0, wouldFetch: 0, bytes: 0 },
        exitCode: 2,
        interrupted: false,
        out: s.out,
        error: { code },
      });
      expect(r.stderr).toContain(code); // and said on stderr, as without --json
    }
    expect(s.sandbox.log).toHaveLength(0);
    // a flag or value the parser refuses: exit 2, and the same one run-end line
    for (const bad of [['-j', '0'], ['--bogus']]) {
      const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json', ...bad], {
        cwd: s.dir,
      });
      expect(r.code).toBe(2);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({
        type: 'run-end',
        exitCode: 2,
        out: s.out,
        error: { code: 'E_USAGE' },
      });
    }
  });

  it.skipIf(!OLD_NODE)('on a Node older than 22.19 the launcher says what is needed', () => {
    const old = OLD_NODE as string;
    let stderr = '';
    let status = 0;
    try {
      execFileSync(old, [BIN, '--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      stderr = (err as { stderr: string }).stderr;
      status = (err as { status: number }).status;
    }
    expect(status).toBe(2);
    expect(stderr).toContain('recpull needs Node.js 22.19 or newer');
  });

  it('two recordings that map to one path never overwrite each other', async () => {
    const s = await setup({ recordings: 5 });
    const r = await runCli(
      ['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--template', '{datasource}.{ext}', '--json'],
      { cwd: s.dir },
    );
    expect(r.code).toBe(0);
    const paths = (await manifestLines(s.out)).map((l) => l.files[0]?.path).sort();
    expect(paths).toEqual(['3-2.wav', '3-3.wav', '3-4.wav', '3-5.wav', '3.wav']);
    const hashes = new Set((await manifestLines(s.out)).map((l) => l.files[0]?.sha256));
    expect(hashes.size).toBe(5);
  });

  it('truncated bodies that look whole and 429 answers are retried until every file is identical', async () => {
    const s = await setup({
      recordings: 12,
      faults: { seed: 4, truncate: { rate: 0.3 }, tooMany: { rate: 0.2, retryAfterS: 0 } },
    });
    const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '-j', '4', '--json'], {
      cwd: s.dir,
    });
    expect(r.code).toBe(0);
    const codes = events(r.stdout)
      .filter((e) => e.type === 'item-retry')
      .map((e) => (e.error as { code: string }).code);
    expect(codes).toContain('E_TRUNCATED');
    expect(codes).toContain('E_RATE_LIMIT');
    for (const l of await manifestLines(s.out)) {
      const rec = s.sandbox.catalogue.find((c) => l.key.endsWith(c.voicefilename));
      const bytes = await readFile(join(s.out, l.files[0]?.path as string));
      expect(bytes.equals(s.sandbox.contentOf(rec as (typeof s.sandbox.catalogue)[number]))).toBe(true);
    }
  });

  it('talks HTTPS to a server with a private CA named by tls.caFile', async () => {
    const sandbox = await startTimplusSandbox({ recordings: 3, tls: true });
    sandboxes.push(sandbox);
    const dir = await tempDir();
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, sandboxCertificate());
    const yaml = (extra: string) =>
      `timplus:\n  default:\n    url: ${sandbox.url}\n    username: ${sandbox.username}\n    password: ${sandbox.password}\n${extra}`;
    const list = join(dir, 'l.csv');
    await writeFile(
      list,
      `datasource,voicelocation,voicefilename\n${sandbox.catalogue.map((r) => `3,4,${r.voicefilename}`).join('\n')}\n`,
    );
    const untrusted = await writeConfig(dir, yaml(''), 'untrusted.yaml');
    const r1 = await runCli(
      ['timplus', '-c', untrusted, '-i', list, '-o', join(dir, 'o1'), '--retries', '0', '--json'],
      { cwd: dir },
    );
    expect(r1.code).toBe(1);
    expect(r1.stdout).toContain('tls.caFile');
    const trusted = await writeConfig(dir, yaml(`    tls:\n      caFile: ${ca}\n`), 'trusted.yaml');
    const r2 = await runCli(['timplus', '-c', trusted, '-i', list, '-o', join(dir, 'o2'), '--json'], {
      cwd: dir,
    });
    expect(r2.code).toBe(0);
    expect(sandbox.url.startsWith('https://')).toBe(true);
  });

  it('recpull sandbox serves until Ctrl-C and prints a config that works for both vendors', async () => {
    const dir = await tempDir();
    const sandbox = startCli(['sandbox', '--recordings', '4'], { cwd: dir });
    await waitFor(() => sandbox.stdout().includes('Ctrl-C stops'), 'the sandbox to start');
    const out = sandbox.stdout();
    const config = /config: (\S+)/.exec(out)?.[1] as string;
    const list = /list: +(\S+)/.exec(out)?.[1] as string;
    const r = await runCli(['timplus', '--config', config, '-i', list, '-o', join(dir, 'recs'), '--json'], {
      cwd: dir,
    });
    expect(r.code).toBe(0);
    expect(events(r.stdout).at(-1)).toMatchObject({ counts: { done: 4 } });
    const rc = await runCli(['ringcentral', '--config', config, '-o', join(dir, 'rc'), '--json'], {
      cwd: dir,
    });
    expect(rc.code, rc.stderr).toBe(0);
    expect(events(rc.stdout).at(-1)).toMatchObject({ counts: { done: 4 } });
    sandbox.child.kill('SIGINT');
    expect((await sandbox.closed).code).toBe(0);
  });

  it('never runs code or takes settings from a cosmiconfig meta-config in the working folder', async () => {
    const s = await setup({ recordings: 2 });
    await mkdir(join(s.dir, '.config'), { recursive: true });
    const marker = join(s.dir, 'ran.txt');
    const code = `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x');
module.exports = { searchPlaces: ['nothing.yaml'], mergeSearchPlaces: false };
`;
    await writeFile(join(s.dir, '.config', 'config.js'), code);
    const r = await runCli(['timplus', '-i', s.list, '-o', s.out, '--json'], { cwd: s.dir });
    expect(existsSync(marker)).toBe(false); // the planted code never ran
    expect(r.code).toBe(0); // and its settings were ignored: recpull.config.yaml was still found
  });
  it('refuses a config file found by searching that others may write, unless it is named with --config', async () => {
    const s = await setup({ recordings: 1 });
    await chmod(s.config, 0o666);
    const found = await runCli(['timplus', '-i', s.list, '-o', s.out, '--json'], { cwd: s.dir });
    expect(found.code).toBe(2);
    expect(found.stderr).toContain('writable by group or others');
    const named = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], {
      cwd: s.dir,
    });
    expect(named.code).toBe(0);
  });
});
