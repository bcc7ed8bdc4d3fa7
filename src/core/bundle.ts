/**
 * The write path of a bundle: a fetched body with `bundle: 'zip'` (several recordings of one call, CC-FS by
 * call id; see `FetchedBody` in ./source.ts). One bundle becomes one folder below `--out`, whole or not at all:
 *
 * 1. the folder is named by the output template with its `.{ext}` dropped (`{vendor}/{date}/{name}.{ext}` →
 *    `{vendor}/{date}/{name}`) and claimed through the run's PathAllocator like a file;
 * 2. the folder is journalled (`.recpull/parts`, `bundle: true`) before anything is written;
 * 3. the zip is streamed to `<out>/.recpull/staging/<sha1(key)>.zip` (its Content-Length checked), then
 *    unpacked by src/formats/zip.ts into `<out>/.recpull/staging/<sha1(key)>/`: the central directory audited
 *    first (no `..`, absolute path, symlink, duplicate, bomb...), every entry validated as audio
 *    (src/formats/audio.ts), its name's segments sanitised like template values;
 * 4. the staging folder is renamed into place (`commitStaged`: an existing folder of the same key, a
 *    `--force` re-download, is swapped out and removed), and the manifest line lists every file.
 *
 * A crash leaves at worst a staging folder (the next run deletes `.recpull/staging`: `clearStaging`), a folder
 * renamed into place before its manifest line (deleted by `recoverBundle` in bundle-recovery.ts, then downloaded again), or the
 * `<folder>.old-<pid>` of a swap cut between its two renames (put back or deleted by `recoverBundle`).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { AudioValidator } from '../formats/audio.js';
import { commitStaged, DEFAULT_ZIP_LIMITS, extractZip, fileSink } from '../formats/zip.js';
import { RecpullError } from './errors.js';
import type { FileRecord } from './manifest.js';
import { stateDir } from './manifest.js';
import { makeParentFolders } from './paths.js';
import { redact } from './redact.js';
import { bodyError, type PartState, writeSmallFile } from './sink.js';
import type { FetchedBody, RecordingRef } from './source.js';
import { renderTemplate, sanitizeSegment } from './template.js';
import { disposeBody, itemFields, type WriteContext } from './write-context.js';

/** `<out>/.recpull/staging`: where bundles are downloaded and unpacked before they are renamed into place. */
export function stagingDir(out: string): string {
  return join(stateDir(out), 'staging');
}

/**
 * The folder template of a bundle: `template` without its `.{ext}` (or a bare `{ext}`), trailing dots and
 * slashes cut. Throws `E_TEMPLATE` when nothing is left.
 */
export function bundleTemplate(template: string): string {
  const t = template
    .replace(/\.\{ext\}/g, '')
    .replace(/\{ext\}/g, '')
    .replace(/[./]+$/, '');
  if (t === '')
    throw new RecpullError('E_TEMPLATE', `the output template names no folder for a bundle: ${template}`);
  return t;
}

/** Slack allowed on top of `maxTotalBytes` for a zip's own headers and directory, bytes. */
const ZIP_OVERHEAD_BYTES = 64 * 1024 ** 2;

/**
 * Writes one bundle (see the module comment) and its `--metadata` sidecar (`<folder>.json`, beside the
 * folder). Returns the manifest's file records: every recording as `<folder>/<entry>`, then the sidecar.
 * `state.rel` keeps the claimed folder across attempts (the queue gives it back if the item fails).
 * Throws `E_BAD_AUDIO` (unsafe or corrupt zip, an entry that is not audio, an empty zip; not retried),
 * `E_TRUNCATED` (fewer bytes than Content-Length; retried), `E_TEMPLATE`, `E_IO`, `E_NO_SPACE`, `E_ABORTED`,
 * or the body's network error (retried). Nothing of a failed attempt stays on disk.
 */
export async function writeBundle(
  ref: RecordingRef,
  fetched: FetchedBody,
  state: PartState,
  ctx: WriteContext,
): Promise<FileRecord[]> {
  const fields = itemFields(ref, fetched);
  const id = createHash('sha1').update(ref.key).digest('hex');
  const staging = join(stagingDir(ctx.out), id);
  const zipTmp = `${staging}.zip`;
  let folder: string;
  let files: FileRecord[];
  try {
    folder = state.rel ??= await ctx.paths.claim(
      renderTemplate(bundleTemplate(ctx.template), fields),
      ref.key,
    );
    await mkdir(stagingDir(ctx.out), { recursive: true });
    await ctx.journal.add(ref.key, folder, { bundle: true });
    const limits = { ...DEFAULT_ZIP_LIMITS, ...fetched.bundleLimits };
    await saveBody(fetched, zipTmp, limits.maxTotalBytes + ZIP_OVERHEAD_BYTES, ctx);
    const extracted = await extractZip(zipTmp, staging, {
      limits,
      sink: fileSink(() => new AudioValidator()),
      mapSegment: (s) => sanitizeSegment(s),
      signal: ctx.signal,
    });
    if (extracted.length === 0) throw new RecpullError('E_BAD_AUDIO', 'the zip holds no recording');
    await rm(zipTmp, { force: true });
    await commitStaged(staging, await makeParentFolders(ctx.out, folder));
    files = extracted.map((f) => ({
      path: posix.join(folder, f.path),
      bytes: f.bytes,
      sha256: f.sha256,
      contentType: f.contentType,
    }));
  } finally {
    disposeBody(fetched);
    await rm(zipTmp, { force: true }).catch(() => {});
    await rm(staging, { recursive: true, force: true }).catch(() => {});
  }
  if (ctx.metadata) {
    const rel = await ctx.paths.claim(`${folder}.json`, ref.key);
    await ctx.journal.add(ref.key, rel);
    const record = fetched.record ?? ref.record ?? { key: ref.key, ...fields };
    const text = redact(`${JSON.stringify(record, null, 2)}\n`);
    files.push(await writeSmallFile(ctx.out, rel, text, 'application/json'));
  }
  return files;
}

/** Streams the body to `dest`, at most `maxBytes`, checking Content-Length; reports progress. */
async function saveBody(
  fetched: FetchedBody,
  dest: string,
  maxBytes: number,
  ctx: WriteContext,
): Promise<void> {
  const fh = await open(dest, 'w');
  let bytes = 0;
  try {
    for await (const chunk of fetched.body) {
      if (ctx.signal.aborted) throw new RecpullError('E_ABORTED', 'interrupted');
      bytes += chunk.length;
      if (bytes > maxBytes)
        throw new RecpullError('E_BAD_AUDIO', `unsafe zip: the bundle is larger than ${maxBytes} bytes`);
      for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off)).bytesWritten;
      ctx.onProgress?.(bytes, fetched.length);
    }
  } catch (err) {
    throw err instanceof RecpullError ? err : bodyError(err, ctx.signal);
  } finally {
    await fh.close();
  }
  if (fetched.length !== undefined && bytes !== fetched.length)
    throw new RecpullError('E_TRUNCATED', `the body ended after ${bytes} of ${fetched.length} bytes`, {
      retryable: true,
    });
}

/** Deletes `<out>/.recpull/staging` (what an interrupted run was unpacking). Returns how many entries it held. */
export async function clearStaging(out: string): Promise<number> {
  const dir = stagingDir(out);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  await rm(dir, { recursive: true, force: true });
  return names.length;
}
