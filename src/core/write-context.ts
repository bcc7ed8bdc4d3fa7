/**
 * What the write path of one item shares within a run (`WriteContext`), and the two helpers every writer
 * (src/core/write-item.ts for one file, src/core/bundle.ts for a zip of one call) uses: the item's
 * template fields and the release of a body that was not read to its end.
 */
import type { PartJournal } from './journal.js';
import type { PathAllocator } from './paths.js';
import type { FetchedBody, MetaValue, RecordingRef } from './source.js';

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

/** One field of `itemFields(ref)` (no fetch yet), without building the whole object. */
export function itemField(ref: RecordingRef, name: string): MetaValue | undefined {
  if (name === 'vendor') return ref.vendor;
  if (name === 'key') return ref.key;
  return Object.hasOwn(ref.meta, name) ? ref.meta[name] : undefined;
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
