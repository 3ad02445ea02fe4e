/*
 * queue/spool.ts — message bodies on disk: one immutable file per queued message.
 *
 * Input: the DATA stream (with our Received header in front). Output: a file that is written,
 * fsync'd, and whose directory entry is fsync'd too, before the queue record is committed.
 * The queue record (LMDB) is the commit point, so files are written in place instead of
 * tmp+rename: a file without a record is an orphan from a crash and is swept at start-up by the
 * primary before any receiver runs. Directory fsyncs are coalesced: every file closed while one
 * fsync is running shares the next one (group commit, ARCHITECTURE contract 1).
 * Runs in receiver workers (write) and the primary (read, unlink, DSN write).
 */
import { createReadStream, createWriteStream, mkdirSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Transform } from 'node:stream';

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
   * Write `head` then `body` (through `transforms`) to the message's file; resolves once the file
   * and its directory entry are on disk. On any error the partial file is removed and the error
   * (e.g. ENOSPC) is rethrown for the caller to map to a reply.
   */
  async write(qid: string, head: Buffer, body: Readable, transforms: Transform[] = []): Promise<void> {
    const path = this.pathOf(qid);
    // flush: fsync before close (Node ≥ 20.10); 'wx' refuses to overwrite an existing message.
    const out = createWriteStream(path, { flags: 'wx', mode: 0o640, flush: true, highWaterMark: 256 * 1024 });
    try {
      if (head.length > 0) out.write(head);
      await pipeline([body, ...transforms, out] as unknown as [Readable, ...Transform[]]);
      await this.#dirSync.sync();
    } catch (err) {
      out.destroy();
      await fsp.rm(path, { force: true });
      throw err;
    }
  }

  /** Write a whole buffer (DSNs made by the primary). */
  async writeBuffer(qid: string, data: Buffer): Promise<void> {
    const path = this.pathOf(qid);
    const fh = await fsp.open(path, 'wx', 0o640);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await fsp.rm(path, { force: true });
      throw err;
    }
    await fh.close();
    await this.#dirSync.sync();
  }

  open(qid: string): Readable {
    return createReadStream(this.pathOf(qid), { highWaterMark: 256 * 1024 });
  }

  async remove(qid: string): Promise<void> {
    await fsp.rm(this.pathOf(qid), { force: true });
  }

  async list(): Promise<string[]> {
    return fsp.readdir(this.dir);
  }
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

  async #fsync(): Promise<void> {
    const fh = await fsp.open(this.#dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
