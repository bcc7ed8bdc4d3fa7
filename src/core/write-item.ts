/**
 * The write path of one fetched recording: render its output path from the ref's fields and what the fetch
 * learned, stream the body through the sink (`.part`, sha256, validation, fsync, rename), then write the
 * `--metadata` sidecar through the same path allocator and `.part` journal. Returns the file records the
 * manifest line will list. Whatever happens, the body is either read to its end or destroyed, so its
 * pooled connection is never left busy.
 */
import { createHash } from 'node:crypto';
import { boundedBody } from '../formats/bounded-body.js';
import { writeBundle } from './bundle.js';
import type { FileRecord } from './manifest.js';
import { redact } from './redact.js';
import { insideOut } from './paths.js';
import { type PartState, sameFile, writeRecording, writeSmallFile } from './sink.js';
import type { FetchedBody, RecordingRef } from './source.js';
import { renderTemplate } from './template.js';
import { DEFAULT_MAX_BYTES, disposeBody, itemFields, type WriteContext } from './write-context.js';

/**
 * Writes one fetched recording (and its sidecar). Throws what the sink throws (`E_BAD_AUDIO`,
 * `E_TRUNCATED`, `E_IO`, `E_NO_SPACE`, network errors from the body) and `E_TEMPLATE` when the template
 * needs a field this recording lacks; the `.part` is kept only where the sink keeps it for a resume.
 */
export async function writeItem(
  ref: RecordingRef,
  fetched: FetchedBody,
  state: PartState,
  ctx: WriteContext,
): Promise<FileRecord[]> {
  const fields = itemFields(ref, fetched);
  let file: FileRecord;
  try {
    const body = boundedBody(fetched.body, {
      maxBytes: ctx.maxBytes ?? DEFAULT_MAX_BYTES,
      ...(fetched.rangeStart ? { offset: fetched.rangeStart } : {}),
      ...(fetched.length !== undefined ? { declared: fetched.length } : {}),
    });
    // A zip of one call's recordings: unpacked into one folder (src/core/bundle.ts).
    if (fetched.bundle) return await writeBundle(ref, { ...fetched, body }, state, ctx);
    file = await writeRecording({
      out: ctx.out,
      fetched: { ...fetched, body },
      state,
      journal: ctx.journal,
      key: ref.key,
      signal: ctx.signal,
      claimPath: (ext) => ctx.paths.claim(renderTemplate(ctx.template, { ...fields, ext }), ref.key),
      // a file already there with no owner (a lost manifest) that is this very recording: taken, not copied
      adoptIdentical: (sha256, bytes) =>
        adoptIdentical(ctx, ref.key, state.rel as string, () => sha256, bytes),
      ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}),
    });
  } finally {
    disposeBody(fetched);
  }
  const files = [file];
  if (ctx.metadata) {
    const wanted = `${file.path.replace(/\.[^./]+$/, '')}.json`;
    const rel = await ctx.paths.claim(wanted, ref.key);
    const record = fetched.record ?? ref.record ?? { key: ref.key, ...fields };
    const content = redact(`${JSON.stringify(record, null, 2)}\n`);
    const buf = Buffer.from(content, 'utf8');
    // hashed here only when an unowned file was passed over (writeSmallFile hashes what it writes)
    const sha256 = () => createHash('sha256').update(buf).digest('hex');
    const existing = await adoptIdentical(ctx, ref.key, rel, sha256, buf.length);
    if (existing !== undefined) {
      files.push({ path: existing, bytes: buf.length, sha256: sha256(), contentType: 'application/json' });
    } else {
      await ctx.journal.add(ref.key, rel);
      files.push(await writeSmallFile(ctx.out, rel, content, 'application/json'));
    }
  }
  return files;
}

/**
 * The path `claim` passed over for `key` (a file no one owns, say after the manifest was lost) whose file
 * is byte for byte `bytes` bytes of sha256 `sha256()` (hex; asked for only when such a path exists): `key`
 * takes it instead of `claimed`. Undefined when none is (then `claimed` is written as usual).
 */
async function adoptIdentical(
  ctx: WriteContext,
  key: string,
  claimed: string,
  sha256: () => string,
  bytes: number,
): Promise<string | undefined> {
  for (const existing of ctx.paths.takePassedOver(key)) {
    if (!(await sameFile(insideOut(ctx.out, existing), sha256(), bytes))) continue;
    ctx.paths.adopt(key, existing, claimed);
    return existing;
  }
  return undefined;
}
