/**
 * Runs the built CLI (`bin/recpull.js` → dist/) as a subprocess, the way users and cron run it.
 * `npm test` builds first (pretest), so dist/ matches the sources.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/recpull.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Text written to stdin, then closed (default: stdin closed at once). */
  input?: string;
  timeoutMs?: number;
  /** The script to run instead of bin/recpull.js (e.g. a program embedding another registry). */
  bin?: string;
}

/**
 * Node's compile cache for every CLI run of the tests: one private folder (the launcher makes it owner-only),
 * so each test's fresh home does not start cold.
 */
const TEST_CACHE = join(tmpdir(), `recpull-test-cache-${process.getuid?.() ?? 'user'}`);

/** Env for the child: no stray config from the real home. (Fast retries: `retryBase` in the test configs.) */
export function testEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: TEST_CACHE,
    NO_COLOR: '1',
    ...extra,
  };
}

/** A CLI process started by `startCli`: its output so far, and its result once it exits. */
export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited and its output is closed. */
  closed: Promise<CliResult>;
}

/**
 * Starts the CLI, collecting its output. Standard input is closed at once unless `opts.keepStdinOpen`
 * (then the test writes to `child.stdin`); `opts.input` is written first when given.
 */
export function startCli(args: string[], opts: CliOptions & { keepStdinOpen?: boolean } = {}): RunningCli {
  const home = opts.cwd ?? tmpdir();
  const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], {
    cwd: opts.cwd ?? home,
    env: testEnv(home, opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  if (opts.input !== undefined) child.stdin?.write(opts.input);
  if (!opts.keepStdinOpen) child.stdin?.end();
  const closed = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, closed };
}

/** Runs the CLI to completion (killed after `opts.timeoutMs`, default 60 s). */
export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const cli = startCli(args, opts);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  try {
    return await cli.closed;
  } finally {
    clearTimeout(timer);
  }
}

/** A fresh temp folder. */
export function tempDir(prefix = 'recpull-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Writes a config file (mode 600) and returns its path. */
export async function writeConfig(dir: string, yaml: string, name = 'recpull.config.yaml'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, yaml);
  await chmod(path, 0o600);
  return path;
}

/** The manifest lines of an output folder, parsed. */
export async function manifestLines(out: string): Promise<
  {
    key: string;
    status: string;
    files: { path: string; sha256: string; bytes: number }[];
    error?: { code: string; message: string };
  }[]
> {
  const text = await readFile(join(out, '.recpull', 'manifest.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

/** Parses NDJSON stdout. */
export function events(stdout: string): { type: string; [k: string]: unknown }[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

/**
 * How many recordings an event stream started (`item-start`) and never finished (no `item-done` or
 * `item-failed` for their key): what the run's left-undone notice must count.
 */
export function startedWithoutOutcome(evs: { type: string; [k: string]: unknown }[]): number {
  const ended = new Set(
    evs.filter((e) => e.type === 'item-done' || e.type === 'item-failed').map((e) => e.key),
  );
  return new Set(evs.filter((e) => e.type === 'item-start' && !ended.has(e.key)).map((e) => e.key)).size;
}

/** Polls `condition` every 50 ms until it holds; throws after `timeoutMs` (default 20 s) naming `what`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every file below `dir` (relative paths); recpull's state folder `.recpull` only when `all`. */
export async function filesBelow(dir: string, all = false): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .filter((p) => all || !p.startsWith('.recpull'));
}
