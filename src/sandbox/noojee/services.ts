/**
 * The Axis service `GET /servicemanager/services/njadmin-api-recording?method=…` of the Noojee emulator
 * (seeds/noojee-recording-api-2.7.14.txt; answers as noojee/axis-soap-over-get.md describes Axis 1.4):
 * - `start&extenOrUniqueId=&tag=`: starts recording an extension (a channel name such as `SIP/410-12FA7B`
 *   resolves to `410`) or a call by uniqueid; 200 on success, otherwise a fault (HTTP 500);
 * - `stop&extenOrUniqueId=`: ends that recording, which becomes retrievable;
 * - `retrieve&tag=&username=` / `retrieveByUniqueId&uniqueId=&username=`: the recording, base64 in the
 *   recording's body style; deleted, private, unknown and in-progress recordings are refused with a fault
 *   (the recording's style: Axis 1 or Axis 2 fault, or a plain text for bare-base64 recordings).
 * No `method` → 400 with an HTML `<h2>Error: …</h2>` page, as Axis 1's QSMethodHandler does.
 */
import { sizeFor } from '../catalogue.js';
import { type NoojeeExchange, sendFault, sendRecording, sendText } from './context.js';
import { type NoojeeRecording, recording } from './recordings.js';
import { voidResponse } from './soap.js';

/** The Axis service path. */
export const SERVICE_PATH = '/servicemanager/services/njadmin-api-recording';

/** `SIP/410-12FA7B` → `410`; anything without a `/` (an extension, a uniqueid) as it is. */
export function resolveExten(value: string): string {
  const slash = value.indexOf('/');
  if (slash < 0) return value;
  const rest = value.slice(slash + 1);
  return rest.replace(/[@;].*$/, '').replace(/-[^-]*$/, '');
}

/** Handles one request to the Axis service. */
export async function handleService(x: NoojeeExchange): Promise<void> {
  const q = x.url.searchParams;
  const method = q.get('method');
  x.entry.op = method ?? undefined;
  if (!method) {
    return sendText(x, 400, '<h2>Error: The method parameter is required</h2>', 'text/html');
  }
  switch (method) {
    case 'start':
      return start(x, q.get('extenOrUniqueId'), q.get('tag'));
    case 'stop':
      return stop(x, q.get('extenOrUniqueId'));
    case 'retrieve':
      return retrieve(x, 'tag', q.get('tag'), q.get('username'));
    case 'retrieveByUniqueId':
      return retrieve(x, 'uniqueId', q.get('uniqueId'), q.get('username'));
    default:
      return sendFault(x, `No such operation '${method}'`, { faultcode: 'Client' });
  }
}

function active(x: NoojeeExchange, target: string): NoojeeRecording | undefined {
  return x.ctx.recordings.find(
    (r) => r.state === 'recording' && (r.exten === target || r.uniqueId === target),
  );
}

function start(x: NoojeeExchange, raw: string | null, tag: string | null): void {
  if (!raw) return sendFault(x, 'extenOrUniqueId is required');
  if (tag === null) return sendFault(x, 'tag is required');
  const target = resolveExten(raw);
  if (active(x, target)) return sendFault(x, `A recording is already in progress for ${target}`);
  const now = x.ctx.now();
  const byUid = target.includes('.');
  const uniqueId = byUid ? target : `${Math.floor(now / 1000)}.${900 + x.ctx.minted++}`;
  const rec = recording(
    { uniqueId, tag, exten: byUid ? '400' : target, start: now, durationS: 0, state: 'recording' },
    x.ctx.seed,
    x.ctx.defaultUser,
  );
  rec.bytes = sizeFor(uniqueId, { seed: x.ctx.seed });
  x.ctx.recordings.push(rec);
  sendText(x, 200, voidResponse('start'), 'text/xml');
}

function stop(x: NoojeeExchange, raw: string | null): void {
  if (!raw) return sendFault(x, 'extenOrUniqueId is required');
  const target = resolveExten(raw);
  const rec = active(x, target);
  if (!rec) return sendFault(x, `No recording is in progress for ${target}`);
  rec.state = 'done';
  rec.durationS = Math.max(1, Math.round((x.ctx.now() - rec.start) / 1000));
  sendText(x, 200, voidResponse('stop'), 'text/xml');
}

async function retrieve(
  x: NoojeeExchange,
  by: 'tag' | 'uniqueId',
  value: string | null,
  username: string | null,
): Promise<void> {
  if (value === null || value === '') return sendFault(x, `${by} is required`);
  if (!username) return sendFault(x, 'username is required');
  if (!x.ctx.users.has(username)) return sendFault(x, `Unknown user '${username}'`);
  const matches = x.ctx.recordings.filter((r) => (by === 'tag' ? r.tag === value : r.uniqueId === value));
  const rec = matches.find((r) => r.state === 'done') ?? matches[matches.length - 1];
  const what = by === 'tag' ? `tag '${value}'` : `uniqueId '${value}'`;
  if (!rec) return sendFault(x, `No recording found for ${what}`);
  const refuse = (text: string) =>
    rec.style === 'bare'
      ? sendText(x, 500, text)
      : sendFault(x, text, { style: rec.style === 'axis2' ? 'axis2' : 'axis1' });
  switch (rec.state) {
    case 'recording':
      x.ctx.stats.inProgressRefusals++;
      return refuse(`The recording for ${what} is still in progress`);
    case 'deleted':
      return refuse(`The recording for ${what} has been deleted`);
    case 'private':
      return refuse(`The recording for ${what} is private`);
    case 'done':
      return sendRecording(x, rec);
  }
}
