/**
 * The Noojee client and Source against the emulator, through the real engine (`runDownloads` into a temp
 * folder): every body style decoded byte-identical, faults and refusals as failed items with the server's
 * words, the start → in progress → stop → retrieve cycle, corrupt and cut bodies, tags with `&`, spaces and
 * `+` intact on the wire, the hour listing under its rate limit (asserted from the request log), HTTP Basic,
 * and the apiKey kept out of everything written.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/events.js';
import { HttpClient } from '../../src/core/http.js';
import { runDownloads } from '../../src/core/run.js';
import {
  type NoojeeSandbox,
  type NoojeeSandboxOptions,
  startNoojeeSandbox,
} from '../../src/sandbox/noojee/index.js';
import { NoojeeClient, type NoojeeClientOptions } from '../../src/vendors/noojee/client.js';
import { type NoojeeSelection, NoojeeSource } from '../../src/vendors/noojee/source.js';
import { manifestLines, tempDir } from '../helpers/cli.js';

let sb: NoojeeSandbox | undefined;
let http: HttpClient | undefined;
afterEach(async () => {
  await http?.close();
  await sb?.close();
  sb = http = undefined;
});

async function setup(opts: NoojeeSandboxOptions, client: Partial<NoojeeClientOptions> = {}) {
  sb = await startNoojeeSandbox(opts);
  http = new HttpClient({ timeoutMs: 10_000 });
  return new NoojeeClient(http, {
    url: sb.url,
    username: sb.username,
    apiKey: sb.apiKey,
    profile: 'test',
    ...(sb.httpUser ? { httpUser: sb.httpUser, httpPassword: sb.httpPassword } : {}),
    retryBaseMs: 10,
    ...client,
  });
}

async function run(
  client: NoojeeClient,
  selection: NoojeeSelection,
  extra: { notReadyWaitMs?: number; metadata?: boolean } = {},
) {
  const out = await tempDir();
  const events: RunEvent[] = [];
  const source = new NoojeeSource({ client, selection, tz: sb!.tz });
  const result = await runDownloads(source, {
    out,
    profile: 'test',
    concurrency: 3,
    retries: 2,
    retryBaseMs: 10,
    notReadyWaitMs: extra.notReadyWaitMs ?? 0,
    force: false,
    dryRun: false,
    metadata: extra.metadata ?? false,
    signal: new AbortController().signal,
    emit: (e) => events.push(e),
  });
  const lines = await manifestLines(out);
  return {
    out,
    events,
    result,
    source,
    lines: lines as unknown as {
      key: string;
      status: string;
      files?: { path: string; sha256: string }[];
      error?: { code: string; message: string };
      attempts: number;
    }[],
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const signal = new AbortController().signal;

describe('Noojee client and source', () => {
  it('decodes every body style (wrapped or not) byte-identical, by tag, by uniqueId and from an input list', async () => {
    const client = await setup({ recordings: 6, wrapRatio: 0.5 });
    const cat = sb!.catalogue;
    expect(new Set(cat.map((r) => `${r.style}`)).size).toBe(3);
    const { result, lines, out } = await run(client, {
      tags: cat.slice(0, 3).map((r) => r.tag),
      uniqueIds: cat.slice(3, 5).map((r) => r.uniqueId),
    });
    expect(result.counts).toMatchObject({ done: 5, failed: 0 });
    for (const rec of cat.slice(0, 5)) {
      const key = rec === cat[3] || rec === cat[4] ? `noojee:uid:${rec.uniqueId}` : `noojee:tag:${rec.tag}`;
      const line = lines.find((l) => l.key === key)!;
      const file = await readFile(join(out, line.files![0]!.path));
      expect(file.equals(sb!.contentOf(rec))).toBe(true);
      expect(line.files![0]!.sha256).toBe(sha(file));
    }
    expect(lines.find((l) => l.key === `noojee:tag:${cat[0]!.tag}`)!.files![0]!.path).toBe(
      `noojee/fred/tag/${cat[0]!.tag}.wav`,
    );
    const input = Readable.from([`uniqueId,username,note\n${cat[5]!.uniqueId},wilma,hello\n`]);
    const listed = await run(client, { input });
    expect(listed.result.counts.done).toBe(1);
    expect(sb!.log.at(-1)!.query).toMatchObject({ uniqueId: cat[5]!.uniqueId, username: 'wilma' });
  });

  it('fails an item with the faultstring (not found, deleted, private); retries nothing of those', async () => {
    const client = await setup({
      recordings: 0,
      specs: [
        { tag: 'gone', state: 'deleted', style: 'axis1' },
        { tag: 'mine', state: 'private', style: 'bare' },
      ],
    });
    const { result, lines, events } = await run(client, { tags: ['nope', 'gone', 'mine'], uniqueIds: [] });
    expect(result.counts).toMatchObject({ done: 0, failed: 3 });
    expect(result.exitCode).toBe(1);
    const err = (tag: string) => lines.find((l) => l.key === `noojee:tag:${tag}`)!;
    expect(err('nope').error).toMatchObject({
      code: 'E_NOT_FOUND',
      vendorCode: 'soapenv:Server.userException',
    });
    expect(err('nope').error!.message).toContain("No recording found for tag 'nope'");
    expect(err('gone').error!.message).toMatch(/was deleted .*has been deleted/);
    expect(err('mine').error!.message).toMatch(/is private \(error text: .*is private\)/);
    expect(lines.every((l) => l.attempts === 1)).toBe(true);
    expect(events.some((e) => e.type === 'item-retry')).toBe(false);
  });

  it('start → retrieve fails while in progress (E_NOT_READY) → stop → retrieve succeeds', async () => {
    const client = await setup({ recordings: 0 });
    expect(await client.start('SIP/410-12FA7B', 'call 7', signal)).toEqual({
      ok: true,
      status: 200,
      message: 'start: OK',
    });
    const again = await client.start('410', 'other', signal);
    expect(again).toMatchObject({ ok: false, status: 500 });
    expect(again.message).toContain('already in progress');
    const busy = await run(client, { tags: ['call 7'], uniqueIds: [] }, { notReadyWaitMs: 0 });
    expect(busy.lines[0]!.error).toMatchObject({ code: 'E_NOT_READY' });
    expect(busy.lines[0]!.error!.message).toContain('still being recorded');
    expect((await client.stop('SIP/410-99', signal)).ok).toBe(true);
    expect(
      sb!.log.filter((e) => e.op === 'start' || e.op === 'stop').map((e) => e.query.extenOrUniqueId),
    ).toEqual(['410', '410', '410']);
    const done = await run(client, { tags: ['call 7'], uniqueIds: [] });
    expect(done.result.counts.done).toBe(1);
    const stopAgain = await client.stop('410', signal);
    expect([stopAgain.ok, stopAgain.message]).toEqual([false, 'No recording is in progress for 410']);
  });

  it('retries a body cut mid-way until it completes; an invalid base64 body fails with no file', async () => {
    const client = await setup({
      recordings: 0,
      specs: [
        { tag: 'cut-axis1', style: 'axis1', bytes: 200_000 },
        { tag: 'cut-bare', style: 'bare', bytes: 200_000, wrap: true },
        { tag: 'bad', style: 'axis2', bytes: 200_000, hostile: 'invalid-char' },
        { tag: 'pad', style: 'bare', bytes: 200_000, hostile: 'bad-padding' },
      ],
      faults: { truncate: { rate: 1, keepBytes: 70_001 }, times: 1 },
    });
    const { result, lines, out } = await run(client, {
      tags: ['cut-axis1', 'cut-bare', 'bad', 'pad'],
      uniqueIds: [],
    });
    const line = (tag: string) => lines.filter((l) => l.key === `noojee:tag:${tag}`).at(-1)!;
    for (const tag of ['cut-axis1', 'cut-bare']) {
      expect([tag, line(tag).status, line(tag).attempts]).toEqual([tag, 'done', 2]);
      expect((await readFile(join(out, line(tag).files![0]!.path))).equals(sb!.contentOf(tag))).toBe(true);
    }
    expect(line('bad').error).toMatchObject({ code: 'E_PROTOCOL' });
    expect(line('bad').error!.message).toContain('invalid character "*"');
    expect(line('pad').error!.message).toContain('bad padding');
    expect(result.counts).toMatchObject({ done: 2, failed: 2 });
    const files = lines.flatMap((l) => l.files ?? []).map((f) => f.path);
    expect(files.some((p) => p.includes('bad') || p.includes('pad'))).toBe(false);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(join(out, 'noojee', 'fred', 'tag'))).toEqual(['cut-axis1.wav', 'cut-bare.wav']);
  });

  it('sends tags with &, spaces and + intact', async () => {
    const tags = ['A&B', 'two words', '1+1=2', 'x%20y', 'ünï'];
    const client = await setup({ recordings: 0, specs: tags.map((tag) => ({ tag })) });
    const { result } = await run(client, { tags, uniqueIds: [] });
    expect(result.counts.done).toBe(tags.length);
    expect(sb!.log.map((e) => e.query.tag).sort()).toEqual([...tags].sort());
  });

  it('lists 3 PBX hours under a 1-per-window limit: every leg that ended in the range, never over the limit', async () => {
    const windowMs = 300;
    const HOUR = 3_600_000;
    const to = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR);
    const from = new Date(to.getTime() - 3 * HOUR);
    const client = await setup(
      {
        recordings: 9,
        from,
        to: new Date(to.getTime() - 1000),
        tz: 'Australia/Adelaide', // +9:30/+10:30: PBX hours are not UTC hours
        listing: { limit: 1, windowMs },
        specs: [
          { uniqueId: 'before.1', start: from.getTime() - 120_000, durationS: 60 },
          { uniqueId: 'after.1', start: to.getTime() - 10_000, durationS: 20 },
        ],
      },
      { listingLimit: { limit: 1, windowMs } },
    );
    const { result, lines, source, events } = await run(client, { from, to }, { metadata: true });
    const inRange = sb!.catalogue.filter((r) => r.uniqueId.includes('.') && !/before|after/.test(r.uniqueId));
    expect(result.counts).toMatchObject({ done: 9, failed: 0 });
    expect(lines.map((l) => l.key).sort()).toEqual(inRange.map((r) => `noojee:uid:${r.uniqueId}`).sort());
    const listing = sb!.log.filter((e) => e.op === 'listing');
    expect(listing.map((e) => e.status)).toEqual(listing.map(() => 200));
    expect(listing.length).toBeGreaterThanOrEqual(3);
    expect(listing.length).toBeLessThanOrEqual(4); // Adelaide hours straddle UTC hours: 3 or 4 of them
    for (let i = 1; i < listing.length; i++)
      expect(listing[i]!.at - listing[i - 1]!.at).toBeGreaterThanOrEqual(windowMs);
    expect(sb!.stats).toMatchObject({ rateLimitViolations: 0, tooEarlyListings: 0 });
    expect(source.coveredUntil?.getTime()).toBe(to.getTime());
    const unnamed = inRange.find((r) => r.listedWithoutUsername)!;
    expect(sb!.log.find((e) => e.query.uniqueId === unnamed.uniqueId)!.query.username).toBe('fred');
    const sample = lines.find((l) => l.key === `noojee:uid:${inRange[0]!.uniqueId}`)!;
    expect(sample.files![0]!.path).toMatch(
      /^noojee\/\d{4}\/\d{2}\/\d{2}\/\d{4}-\d{2}-\d{2}_\d{6}_(In|Out)bound_\w+_\w+_[\d.]+\.wav$/,
    );
    expect(sample.files!.length).toBe(2); // the recording and its --metadata record
    expect(JSON.stringify([events, lines])).not.toContain(sb!.apiKey);
  });

  it('a wrong HTTP Basic password stops the run with E_AUTH (exit 3); a wrong apiKey is E_AUTH without the key', async () => {
    const client = await setup(
      { recordings: 2, basicAuth: { user: 'axis', password: 'right-pw-1234' } },
      { httpUser: 'axis', httpPassword: 'wrong-pw-5678' },
    );
    const { result } = await run(client, {
      tags: [sb!.catalogue[0]!.tag, sb!.catalogue[1]!.tag],
      uniqueIds: [],
    });
    expect(result.fatal?.code).toBe('E_AUTH');
    expect(result.exitCode).toBe(3);
    expect(result.fatal!.message).toContain('refused the HTTP Basic credentials');
    expect(result.fatal!.message).not.toContain('wrong-pw-5678');
    const keyed = new NoojeeClient(http!, {
      url: sb!.url,
      username: 'fred',
      apiKey: 'canary-api-key-0001',
      profile: 'test',
      httpUser: 'axis',
      httpPassword: 'right-pw-1234',
    });
    const hour = { date: '2024/01/10', hour: 3, start: new Date(0), end: new Date(0) };
    const err = (await keyed.listHour(hour, 'UTC', signal).catch((e: unknown) => e)) as Error & {
      code: string;
    };
    expect(err.code).toBe('E_AUTH');
    expect(err.message).not.toContain('canary-api-key-0001');
  });
});
