/*
 * queue/spool.ts — message bodies on disk: one immutable file per queued message.
 *
 * Input: the DATA stream (with our Received header in front). Output: a file that is written,
 * fdatasync'd, and whose directory entry is fsync'd too, before the queue record is committed.
 * The queue record (LMDB) is the commit point, so files are written in place instead of
 * tmp+rename: a file without a record is an orphan from a crash and is swept at start-up by the
 * primary before any receiver runs. Directory fsyncs are coalesced: every file closed while one
 * fsync is running shares the next one (group commit, ARCHITECTURE contract 1).
 * Runs in receiver workers (write) and the primary (read, unlink, DSN write).
 */
import { closeSync, createReadStream, fdatasync as fdatasyncCb, mkdirSync, openSync, promises as fsp, readFileSync, unlinkSync, writevSync, type promises } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';

export class Spool {
  readonly dir: string;
  readonly #dirSync: DirSyncer;

  constructor(spoolRoot: string) {
    this.dir = join(spoolRoot, 'msg');
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    this.#dirSync = new DirSyncer(this.dir);
  }

  pathOf(qid: string): string {
    return join(this.dir, qid);
  }

  /**
   * Write `head` then `body` to the message's file; resolves once the file and its directory
   * entry are on disk. `observe` sees every body chunk (header capture, size count) without a
   * second pass; while `discard()` is true chunks are read but not stored (an oversized message
   * is drained, then refused). On any error the partial file is removed and the error (e.g.
   * ENOSPC) is rethrown for the caller to map to a reply.
   *
   * Only the fdatasync goes to the thread pool; open, writev (every 1 MiB) and close are
   * synchronous. On these VMs each thread-pool hop cost ~100 µs of main-thread CPU (bench/
   * profile: open, write, close and unlink each as dear as the data itself), while the
   * synchronous calls only touch the page cache. fdatasync: data plus the size needed to read
   * it back, which is all a new file needs.
   */
  async write(qid: string, head: Buffer, body: AsyncIterable<Buffer> | Iterable<Buffer>, observe?: (chunk: Buffer) => void, discard?: () => boolean): Promise<void> {
    const path = this.pathOf(qid);
    let fd = -1;
    try {
      // 'wx' refuses to overwrite an existing message.
      fd = openSync(path, 'wx', 0o640);
      let pending: Buffer[] = head.length > 0 ? [head] : [];
      let bytes = head.length;
      for await (const chunk of body) {
        if (discard?.()) continue;
        observe?.(chunk);
        pending.push(chunk);
        bytes += chunk.length;
        if (bytes >= 1024 * 1024 || pending.length >= 512) {
          writeAllSync(fd, pending);
          pending = [];
          bytes = 0;
        }
      }
      if (pending.length > 0) writeAllSync(fd, pending);
      await fdatasync(fd);
      closeSync(fd);
      fd = -1;
    } catch (err) {
      if (fd !== -1) closeSync(fd);
      unlinkIfExists(path);
      throw err;
    }
    await this.#dirSync.sync();
  }

  /** Write a whole buffer (DSNs made by the primary). */
  async writeBuffer(qid: string, data: Buffer): Promise<void> {
    await this.write(qid, data, []);
  }

  /**
   * The message as a stream. Up to 256 KiB (most mail) it is read in one synchronous call from
   * the page cache (see write() for why); larger ones stream in 64 KiB chunks.
   */
  open(qid: string, sizeHint = Infinity): Readable {
    const path = this.pathOf(qid);
    if (sizeHint <= 256 * 1024) {
      try {
        return Readable.from([readFileSync(path)], { objectMode: false });
      } catch (err) {
        return new Readable({ read() { this.destroy(err as Error); } });
      }
    }
    return createReadStream(path, { highWaterMark: 64 * 1024 });
  }

  /** Unlink is a metadata change in the page cache; done synchronously for the same reason. */
  async remove(qid: string): Promise<void> {
    unlinkIfExists(this.pathOf(qid));
  }

  async list(): Promise<string[]> {
    return fsp.readdir(this.dir);
  }
}

/** Not rm({force}): that costs two lstat calls per file (rimraf); a spool file is never a directory. */
function unlinkIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** writev until every byte is written (a short write is legal, e.g. near a full disk). */
function writeAllSync(fd: number, chunks: Buffer[]): void {
  let rest = chunks;
  while (rest.length > 0) {
    let n = writevSync(fd, rest);
    const next: Buffer[] = [];
    for (const c of rest) {
      if (n >= c.length) n -= c.length;
      else {
        next.push(n > 0 ? c.subarray(n) : c);
        n = 0;
      }
    }
    rest = next;
  }
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasyncCb(fd, (err) => (err ? reject(err) : resolve())));
}

/** Coalesces fsync(dir) calls: callers that arrive during a running fsync share the next one. */
class DirSyncer {
  readonly #dir: string;
  #running: Promise<void> | null = null;
  #next: Promise<void> | null = null;

  constructor(dir: string) {
    this.#dir = dir;
  }

  sync(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#fsync().finally(() => { this.#running = null; });
      return this.#running;
    }
    // An fsync is running but may have started before our entry was written: wait for a new one.
    if (!this.#next) {
      this.#next = this.#running.then(() => {
        this.#next = null;
        return this.sync();
      }, () => {
        this.#next = null;
        return this.sync();
      });
    }
    return this.#next;
  }

  #handle: Promise<promises.FileHandle> | null = null;

  /** The directory stays open for the process's life: saves an open and a close per sync. */
  async #fsync(): Promise<void> {
    this.#handle ??= fsp.open(this.#dir, 'r');
    try {
      await (await this.#handle).sync();
    } catch (err) {
      this.#handle = null;
      throw err;
    }
  }
}
