/**
 * A file open for writing by descriptor, for the sink's hot path: the callback API of `node:fs` without
 * `fs/promises`' FileHandle (an object, a close-on-GC guard and more promises per call). Every call that
 * may wait for the file system's journal — open with O_CREAT, write, fsync — goes to the thread pool:
 * on ext4 a create waits while another file's fsync commits the journal (measured: 1.5 ms per
 * synchronous open at -j16, the event loop stalled meanwhile). Only `close` is synchronous.
 */
import { closeSync, fsync, ftruncate, open, write, writev } from 'node:fs';
import { promisify } from 'node:util';

const openAsync = promisify(open);
const writevAsync = promisify(writev);
const writeAsync = promisify(write);
const fsyncAsync = promisify(fsync);
const ftruncateAsync = promisify(ftruncate);

/** An open file descriptor with the few operations the sink needs. */
export class FdFile {
  private constructor(private fd: number | undefined) {}

  /**
   * Opens `path` with `flags` (a string such as `'a'`, or `O_*` bits) and `mode`.
   * @throws the file system's error (`ENOENT`, `ELOOP` for a refused symlink, `ENOSPC`...).
   */
  static async open(path: string, flags: string | number, mode?: number): Promise<FdFile> {
    return new FdFile(await openAsync(path, flags, mode));
  }

  private get handle(): number {
    if (this.fd === undefined) throw Object.assign(new Error('file is closed'), { code: 'EBADF' });
    return this.fd;
  }

  /** Writes `chunks` at the current position (the end, for `'a'`); resolves with the bytes written. */
  async writev(chunks: readonly NodeJS.ArrayBufferView[]): Promise<number> {
    return (await writevAsync(this.handle, chunks)).bytesWritten;
  }

  /** Writes `length` bytes of `buf` from `offset`; resolves with the bytes written (maybe fewer). */
  async write(buf: Uint8Array, offset: number, length: number): Promise<number> {
    return (await writeAsync(this.handle, buf, offset, length)).bytesWritten;
  }

  /** Writes all of `buf`, finishing partial writes. */
  async writeAll(buf: Uint8Array): Promise<void> {
    for (let off = 0; off < buf.length;) off += await this.write(buf, off, buf.length - off);
  }

  /** Cuts the file to `bytes`. */
  truncate(bytes: number): Promise<void> {
    return ftruncateAsync(this.handle, bytes);
  }

  /** fsync: the file's data and size are on disk when it resolves. */
  sync(): Promise<void> {
    return fsyncAsync(this.handle);
  }

  /** Closes the descriptor (idempotent; errors of a second close are not thrown). */
  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    closeSync(fd);
  }
}
