/**
 * The `--since-last` cursor of any vendor: where the previous successful run of a vendor's profile (and
 * optional qualifier, e.g. RingCentral's extension) into one output folder ended, kept as
 * `<out>/.recpull/<vendor>-since-last-<profile>[-<qualifier>].json` = `{"end": "<ISO 8601>"}`.
 * A vendor writes it (atomically) only after a run in which every recording was done or skipped.
 * Used by RingCentral (`ringcentralCursorPath`, the file names it has always had) and Noojee.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecpullError } from '../core/errors.js';
import { stateDir } from '../core/manifest.js';
import { sanitizeSegment } from '../core/template.js';

/** The cursor file of `vendor`'s `profile` in `out` (and `qualifier`, when a run reads only part of the account). */
export function cursorPath(out: string, vendor: string, profile: string, qualifier?: string): string {
  const q = qualifier !== undefined ? `-${qualifier}` : '';
  return join(stateDir(out), sanitizeSegment(`${vendor}-since-last-${profile}${q}.json`));
}

/**
 * RingCentral's cursor file of `profile` (and `extension`, when the run reads one extension's call log; `~`,
 * the JWT's own, is written `self`): `ringcentral-since-last-<profile>[-ext-<extension>].json`.
 */
export function ringcentralCursorPath(out: string, profile: string, extension?: string): string {
  return cursorPath(
    out,
    'ringcentral',
    profile,
    extension !== undefined ? `ext-${extension === '~' ? 'self' : extension}` : undefined,
  );
}

/** The end of the previous successful run, or undefined when there was none. Throws `E_IO` for a bad file. */
export async function readCursor(path: string): Promise<Date | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RecpullError('E_IO', `cannot read the --since-last cursor ${path}: ${(err as Error).message}`);
  }
  try {
    const end = new Date((JSON.parse(text) as { end?: unknown }).end as string);
    if (!Number.isNaN(end.getTime())) return end;
  } catch {
    // fall through
  }
  throw new RecpullError(
    'E_IO',
    `the --since-last cursor ${path} is unreadable; delete it to start over (last 24 h)`,
  );
}

/** Records `end` as the end of a successful run (written to `<path>.part`, then renamed). */
export async function writeCursor(path: string, end: Date): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const part = `${path}.part`;
  await writeFile(part, `${JSON.stringify({ end: end.toISOString() })}\n`);
  await rename(part, path);
}
