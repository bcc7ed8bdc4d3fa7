/**
 * Zips the CC-FS emulator serves: well-formed ones streamed by yazl (several recordings of one call id, bill
 * files), and hostile ones written byte by byte (yazl refuses to write `..`, absolute or drive paths), for the
 * zip-safety tests: `..` entries, absolute and drive paths, symlinks, duplicate names, a bomb (a small zip that
 * expands enormously) and an entry whose declared size is a lie.
 * Zip layout: PKWARE APPNOTE 4.3.7 (local file header), 4.3.12 (central directory), 4.3.16 (end record).
 */
import { PassThrough, Readable } from 'node:stream';
import { constants, crc32, deflateRawSync } from 'node:zlib';
import yazl from 'yazl';

/** One entry of a well-formed zip: its name and its bytes, generated as they are read. */
export interface StreamedEntry {
  name: string;
  chunks: () => Iterable<Buffer>;
}

/** A well-formed, deflated zip streamed by yazl (data descriptors; nothing held whole in memory). */
export function streamZip(entries: StreamedEntry[]): Readable {
  const zip = new yazl.ZipFile();
  for (const e of entries)
    zip.addReadStream(Readable.from(e.chunks()), e.name, { mtime: new Date(0), mode: 0o100644 });
  zip.end();
  const out = new PassThrough();
  zip.outputStream.pipe(out);
  return out;
}

/** One entry of a hand-written zip. */
export interface RawEntry {
  /** Written as is (UTF-8 flag set): `../x`, `/etc/x`, `C:/x` all allowed. */
  name: string;
  /** Uncompressed bytes (deflated unless `store`). */
  data?: Buffer;
  store?: boolean;
  /** Unix mode including the type bits (`0o120777` = symlink). Default `0o100644`. */
  mode?: number;
  /** Uncompressed size to declare instead of the true one (a lie). */
  declaredBytes?: number;
  /** Pre-compressed deflate data with its true size and CRC (for bombs); overrides `data`. */
  deflated?: { bytes: Buffer; size: number; crc: number };
}

/** Writes a zip from `entries`, sizes in the local headers and the central directory (no data descriptors). */
export function rawZip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const data = e.data ?? Buffer.alloc(0);
    const method = e.deflated || !e.store ? 8 : 0;
    const body = e.deflated?.bytes ?? (method === 8 ? deflateRawSync(data) : data);
    const size = e.declaredBytes ?? e.deflated?.size ?? data.length;
    const crc = e.deflated?.crc ?? crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(0x21, 10); // DOS time/date: 1980-01-01
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(0x21, 12);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/**
 * Deflate data that expands to `mib` MiB of zeros (about 1 KiB per MiB): one fully flushed deflate block run
 * repeated, then an empty final block. Returns what {@link RawEntry.deflated} takes.
 */
export function zeroBomb(mib: number): { bytes: Buffer; size: number; crc: number } {
  const unit = Buffer.alloc(1024 * 1024);
  const block = deflateRawSync(unit, { finishFlush: constants.Z_FULL_FLUSH });
  let crc = 0;
  for (let i = 0; i < mib; i++) crc = crc32(unit, crc);
  const parts: Buffer[] = Array.from({ length: mib }, () => block);
  parts.push(Buffer.from([0x03, 0x00])); // final, fixed-Huffman block holding only end-of-block
  return { bytes: Buffer.concat(parts), size: mib * unit.length, crc };
}

/** The hostile zips the emulator serves on demand (see {@link hostileZip}). */
export const HOSTILE_KINDS = [
  'dotdot',
  'absolute',
  'drive',
  'backslash',
  'symlink',
  'duplicate',
  'bomb',
  'lying-size',
] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

/**
 * A zip that starts with one good WAV entry (`good`: its bytes) and then holds the hostile entry of `kind`;
 * an extractor that wrote entries before checking them all would leave `good.wav` behind.
 */
export function hostileZip(kind: HostileKind, good: Buffer): Buffer {
  const first: RawEntry = { name: 'good.wav', data: good };
  switch (kind) {
    case 'dotdot':
      return rawZip([first, { name: '../x.wav', data: good }]);
    case 'absolute':
      return rawZip([first, { name: '/tmp/recpull-escape.wav', data: good }]);
    case 'drive':
      return rawZip([first, { name: 'C:/recpull-escape.wav', data: good }]);
    case 'backslash':
      return rawZip([first, { name: '..\\..\\x.wav', data: good }]);
    case 'symlink':
      return rawZip([first, { name: 'link.wav', data: Buffer.from('/etc/passwd'), mode: 0o120777 }]);
    case 'duplicate':
      return rawZip([first, { name: 'good.wav', data: good }]);
    case 'bomb':
      return rawZip([first, { name: 'bomb.wav', deflated: zeroBomb(256) }]);
    case 'lying-size':
      return rawZip([
        first,
        { name: 'liar.wav', data: Buffer.concat([good, good, good]), declaredBytes: 100 },
      ]);
  }
}
