/**
 * Young-generation collections paced by the bytes a download streams. Each socket read lands in a fresh
 * ArrayBuffer (up to 64 KiB) that is freed only when V8 next collects its young generation, and V8 paces
 * those collections by the JavaScript objects allocated, which one fast download makes few of: between
 * two collections up to about 16 MB of read buffers waited as garbage (one 1 GiB recording: 108 MB peak
 * RSS).
 * Asking for a young collection every 4 MiB written keeps that near 4 MB: 97 MB for the same recording,
 * about 40 ms more collection time per GiB, and no measured change to 2000 × 256 KiB at -j16 (3 alternated
 * bench runs). A V8 option that triggers collections earlier for everything (`--minor-gc-task-trigger=30`)
 * did as well for the big recording but cost the 2000-file run 13% of its throughput.
 *
 * V8's `gc` function exists only with `--expose-gc`, which `bin/recpull.js` sets before loading anything;
 * the process's first context was made before that, so the function is taken from a new `vm` context
 * (0.6 MB, made on first need). Without it (recpull imported as a library, the tests), nothing is collected
 * and nothing else changes.
 */
import { runInNewContext } from 'node:vm';

/** Bytes streamed between two requested young-generation collections. */
export const BYTES_PER_COLLECTION = 4 * 1024 * 1024;

/** Asks for one young-generation collection (synchronous; about 0.2–1 ms). */
export type Collect = () => void;

/** Counts streamed bytes and calls `collect` once per `every` bytes (a call that throws turns it off). */
export class YoungCollections {
  private since = 0;
  private collect: Collect | null | undefined;

  /** `collect`: undefined to take V8's `gc` on first need, null for never. */
  constructor(
    collect?: Collect | null,
    private readonly every = BYTES_PER_COLLECTION,
  ) {
    this.collect = collect;
  }

  /** `bytes` more were streamed (written to a file). */
  streamed(bytes: number): void {
    this.since += bytes;
    if (this.since < this.every) return;
    this.since %= this.every; // what is past the mark counts towards the next (one 10 MiB body: 2, always)
    if (this.collect === undefined) this.collect = exposedMinorGc();
    if (this.collect === null) return;
    try {
      this.collect();
    } catch {
      this.collect = null; // an engine that no longer takes these options: the paced collections stop
    }
  }
}

/** V8's young-generation collection, if `--expose-gc` is set; null otherwise. */
function exposedMinorGc(): Collect | null {
  try {
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : null');
    if (typeof gc !== 'function') return null;
    return () => (gc as (options: { type: 'minor' }) => void)({ type: 'minor' });
  } catch {
    return null;
  }
}

/** The process's pacing: every download's bytes count towards one budget (the garbage is shared). */
export const youngCollections = new YoungCollections();
