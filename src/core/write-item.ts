/**
 * The write path of one fetched recording: render its output path from the ref's fields and what the fetch
 * learned, stream the body through the sink (`.part`, sha256, validation, fsync, rename), then write the
 * `--metadata` sidecar through the same path allocator and `.part` journal. Returns the file records the
 * manifest line will list. Whatever happens, the body is either read to its end or destroyed, so its
 * pooled connection is never left busy.
 */
import { boundedBody } from '../formats/bounded-body.js';
import { writeBundle } from './bundle.js';
import type { FileRecord } from './manifest.js';
import type { PartJournal } from './journal.js';
import type { PathAllocator } from './paths.js';
import { redact } from './redact.js';
import { type PartState, writeRecording, writeSmallFile } from './sink.js';
import type { FetchedBody, MetaValue, RecordingRef } from './source.js';
import { renderTemplate } from './template.js';

/** The default `--max-size`: 2 GiB per file. */
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

/** What every item's write shares within a run. */
export interface WriteContext {
  out: string;
  template: string;
  metadata: boolean;
  /** Largest file accepted, bytes (`--max-size`, default 2 GiB). */
  maxBytes?: number;
  journal: PartJournal;
  paths: PathAllocator;
  signal: AbortSignal;
  /** Bytes written so far (this attempt, resumed bytes included) and the expected total, if known. */
  onProgress?: (bytes: number, total: number | undefined) => void;
}

/** The template fields of one item: the ref's meta, then what the fetch learned, then vendor/key. */
export function itemFields(ref: RecordingRef, fetched?: FetchedBody): Record<string, MetaValue> {
  return { ...ref.meta, ...fetched?.fields, vendor: ref.vendor, key: ref.key };
}

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
      ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}),
    });
  } finally {
    disposeBody(fetched);
  }
  const files = [file];
  if (ctx.metadata) {
    const wanted = `${file.path.replace(/\.[^./]+$/, '')}.json`;
    const rel = await ctx.paths.claim(wanted, ref.key);
    await ctx.journal.add(ref.key, rel);
    const record = fetched.record ?? ref.record ?? { key: ref.key, ...fields };
    files.push(
      await writeSmallFile(ctx.out, rel, redact(`${JSON.stringify(record, null, 2)}\n`), 'application/json'),
    );
  }
  return files;
}

/**
 * Releases a body that may not have been read to its end: a Node stream is destroyed (its socket goes back
 * or is closed), any other async iterable is told to return. Safe to call on a finished body.
 */
export function disposeBody(fetched: FetchedBody): void {
  const body = fetched.body as AsyncIterable<Uint8Array> & { destroy?: () => void; destroyed?: boolean };
  if (typeof body.destroy === 'function') {
    if (!body.destroyed) body.destroy();
    return;
  }
  void Promise.resolve()
    .then(() => body[Symbol.asyncIterator]().return?.())
    .catch(() => {});
}
