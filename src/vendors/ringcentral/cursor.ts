/**
 * The `--since-last` cursor: where the previous successful run of a profile ended, kept as
 * `<out>/.recpull/ringcentral-since-last-<profile>[-ext-<extension>].json` = `{"end": "<ISO 8601>"}`.
 * It is written (atomically) only after a run in which every recording was done or skipped.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecpullError } from '../../core/errors.js';
import { stateDir } from '../../core/manifest.js';
import { sanitizeSegment } from '../../core/template.js';

/** The cursor file of `profile` (and `extension`, when the run reads one extension's call log). */
export function cursorPath(out: string, profile: string, extension?: string): string {
  const ext = extension !== undefined ? `-ext-${extension === '~' ? 'self' : extension}` : '';
  return join(stateDir(out), sanitizeSegment(`ringcentral-since-last-${profile}${ext}.json`));
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

/** Records `end` as the end of a successful run. */
export async function writeCursor(path: string, end: Date): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const part = `${path}.part`;
  await writeFile(part, `${JSON.stringify({ end: end.toISOString() })}\n`);
  await rename(part, path);
}
