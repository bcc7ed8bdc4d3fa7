/**
 * The URLs of the Noojee Recorder interfaces recpull calls (every value percent-encoded: tags may hold `&`,
 * spaces and `+`, which a servlet would otherwise read as a separator, a space and a space):
 * - the Recording API 2.7.14 Axis service over GET (seeds/noojee-recording-api-2.7.14.txt):
 *   `{url}/servicemanager/services/njadmin-api-recording?method=retrieve&tag=..&username=..`,
 *   `method=retrieveByUniqueId&uniqueId=..&username=..`, `method=start&extenOrUniqueId=..&tag=..`,
 *   `method=stop&extenOrUniqueId=..`;
 * - the REST hour listing (noojee/noojee-notes.md, 9.4), POST only:
 *   `{url}/njadmin/rest/RecordingAPI/retrieveMetaDataByHour?apiKey=..&date=yyyy/MM/dd&hour=H`.
 */

/** Path of the Axis service below the PBX's base URL. */
export const SERVICE_PATH = '/servicemanager/services/njadmin-api-recording';
/** Path of the hour listing below the PBX's base URL. */
export const LISTING_PATH = '/njadmin/rest/RecordingAPI/retrieveMetaDataByHour';

/** A recording as the retrieve methods name it: by the tag given at `start`, or by Asterisk uniqueid. */
export type NoojeeRecordingId = { tag: string } | { uniqueId: string };

/**
 * `name=value&…` with every name and value percent-encoded by `encodeURIComponent` (space → `%20`,
 * `+` → `%2B`, `&` → `%26`): read back identically by servlets, Axis 2 and URLSearchParams alike.
 */
export function encodeQuery(params: [string, string][]): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

function withQuery(base: string, path: string, params: [string, string][]): URL {
  const u = new URL(`${base.replace(/\/+$/, '')}${path}`);
  u.search = encodeQuery(params);
  return u;
}

/** The retrieve URL of one recording, on behalf of Noojee user `username`. */
export function retrieveUrl(base: string, id: NoojeeRecordingId, username: string): URL {
  return 'tag' in id
    ? withQuery(base, SERVICE_PATH, [
        ['method', 'retrieve'],
        ['tag', id.tag],
        ['username', username],
      ])
    : withQuery(base, SERVICE_PATH, [
        ['method', 'retrieveByUniqueId'],
        ['uniqueId', id.uniqueId],
        ['username', username],
      ]);
}

/**
 * The extension a channel name stands for, as the seed describes the server doing it ("resolved by
 * stripping the tech and unique identifier from channel names. ie SIP/410-12FA7B becomes 410"):
 * `SIP/410-12FA7B` → `410`, `PJSIP/410-0000001a` → `410`, `Local/410@from-internal-0001;1` → `410`.
 * A value without `/` (an extension, a uniqueid such as `pbx-1392271611.238`) is returned as it is.
 */
export function resolveExten(value: string): string {
  const v = value.trim();
  const slash = v.indexOf('/');
  if (slash < 0) return v;
  return v
    .slice(slash + 1)
    .replace(/[@;].*$/, '')
    .replace(/-[^-]*$/, '');
}

/** The `start` URL: record extension or call `extenOrUniqueId` under `tag`. */
export function startUrl(base: string, extenOrUniqueId: string, tag: string): URL {
  return withQuery(base, SERVICE_PATH, [
    ['method', 'start'],
    ['extenOrUniqueId', resolveExten(extenOrUniqueId)],
    ['tag', tag],
  ]);
}

/** The `stop` URL. */
export function stopUrl(base: string, extenOrUniqueId: string): URL {
  return withQuery(base, SERVICE_PATH, [
    ['method', 'stop'],
    ['extenOrUniqueId', resolveExten(extenOrUniqueId)],
  ]);
}

/** The hour-listing URL: `date` as `yyyy/MM/dd`, `hour` 0–23 (the PBX's wall clock). Holds the apiKey. */
export function listingUrl(base: string, apiKey: string, date: string, hour: number): URL {
  return withQuery(base, LISTING_PATH, [
    ['apiKey', apiKey],
    ['date', date],
    ['hour', String(hour)],
  ]);
}
