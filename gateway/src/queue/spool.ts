/*
 * queue/spool.ts — message bodies on disk, immutable once written.
 *
 * Two homes for a body, recorded in its QueueEntry (`body`):
 * - segment: messages up to SEGMENT_MESSAGE_MAX (256 KiB, most mail) are appended whole to the
 *   process's current segment file (spool/seg/<pid>.<start>.<n>). Concurrent sessions share
 *   one fdatasync of the segment (group commit), and nothing is created or unlinked per
 *   message: a segment is deleted as a whole once it is sealed and no queue entry points into
 *   it (gc). Measured on these VMs, per-message create + fsync + directory fsync + unlink cost
 *   ~0.6 ms of CPU; they were the largest item in the receiver and primary profiles (bench/).
 * - file: a larger message streams to its own file (spool/msg/<qid>), fdatasync'd, with the
 *   directory fsync'd (coalesced), and is unlinked when its entry leaves the queue.
 *
 * Either way the body is on disk before the queue record is committed, and the record is the
 * commit point: bytes a crash left behind without a record (a segment's tail, a lone file) are
 * garbage that gc or the start-up sweep removes; none of them was answered 250.
 * Synchronous open/write/read/unlink on purpose: each thread-pool hop cost ~100 µs of
 * main-thread CPU here, more than the page-cache work itself; only fsyncs use the pool.
 * Runs in receiver workers (write) and the primary (read, gc, DSN write).
 */
import { closeSync, createReadStream, fdatasync as fdatasyncCb, fstatSync, mkdirSync, openSync, promises as fsp, readdirSync, readFileSync, readSync, statSync, unlinkSync, writevSync, type promises } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { BodyLocation } from '../core/index.js';

/** Larger messages get a file of their own (and are never held in memory whole). */
export const SEGMENT_MESSAGE_MAX = 256 * 1024;
/** A segment is sealed (no more appends) past this size or after SEGMENT_IDLE_MS without writes. */
const SEGMENT_SIZE_MAX = 64 * 1024 * 1024;
const SEGMENT_IDLE_MS = 30_000;

export interface SpoolOptions {
  /** Called when this process seals a segment (so the primary may collect it). */
  readonly onSealed?: (segment: string) => void;
}

export class Spool {
  readonly dir: string;
  readonly segDir: string;
  readonly #fileDirSync: FsyncCoalescer;
  readonly #segDirSync: FsyncCoalescer;
  readonly #onSealed: (segment: string) => void;
  #active: ActiveSegment | null = null;
  #segmentSeq = 0;
  readonly #readFds = new Map<string, number>();
  readonly #idleTimer: NodeJS.Timeout;

  constructor(spoolRoot: string, opts: SpoolOptions = {}) {
    this.dir = join(spoolRoot, 'msg');
    this.segDir = join(spoolRoot, 'seg');
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    mkdirSync(this.segDir, { recursive: true, mode: 0o750 });
    this.#fileDirSync = new FsyncCoalescer(() => dirHandle(this.dir));
    this.#segDirSync = new FsyncCoalescer(() => dirHandle(this.segDir));
    this.#onSealed = opts.onSealed ?? (() => undefined);
    this.#idleTimer = setInterval(() => {
      const a = this.#active;
      if (a && a.writers === 0 && Date.now() - a.lastWrite > SEGMENT_IDLE_MS) this.#seal();
    }, SEGMENT_IDLE_MS / 3);
    this.#idleTimer.unref();
  }

  pathOf(qid: string): string {
    return join(this.dir, qid);
  }

  /**
   * Store `head` + `body`; resolves with where it lives once it is on disk. `observe` sees every
   * body chunk (header capture, size) without a second pass; while `discard()` is true chunks
   * are drained but not stored (an oversized message, refused afterwards). On error nothing is
   * left that a record could point to, and the error (e.g. ENOSPC) is rethrown.
   */
  async write(qid: string, head: Buffer, body: AsyncIterable<Buffer> | Iterable<Buffer>, observe?: (chunk: Buffer) => void, discard?: () => boolean): Promise<BodyLocation> {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let file: FileWriter | null = null;
    const take = (chunk: Buffer) => {
      if (file) return file.add(chunk);
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes > SEGMENT_MESSAGE_MAX) {
        file = new FileWriter(this.pathOf(qid));
        for (const c of chunks) file.add(c);
        chunks.length = 0;
      }
    };
    try {
      if (head.length > 0) take(head);
      for await (const chunk of body) {
        if (discard?.()) continue;
        observe?.(chunk);
        take(chunk);
      }
      if (file) {
        await (file as FileWriter).finish();
        await this.#fileDirSync.sync();
        return { kind: 'file' };
      }
    } catch (err) {
      (file as FileWriter | null)?.abort();
      throw err;
    }
    return this.#append(chunks, bytes);
  }

  /** Write a whole buffer (DSNs made by the primary). */
  writeBuffer(qid: string, data: Buffer): Promise<BodyLocation> {
    return this.write(qid, data, []);
  }

  async #append(chunks: Buffer[], length: number): Promise<BodyLocation> {
    if (this.#active && this.#active.size + length > SEGMENT_SIZE_MAX && this.#active.size > 0) this.#seal();
    const seg = this.#active ?? await this.#openSegment();
    seg.writers++;
    try {
      const offset = seg.size;
      writeAllSync(seg.fd, chunks, offset);
      // Advance only after a complete write: after ENOSPC the next message overwrites the tail.
      seg.size = offset + length;
      seg.lastWrite = Date.now();
      await seg.sync.sync();
      return { kind: 'segment', segment: seg.name, offset, length };
    } finally {
      seg.writers--;
      if (seg.sealed && seg.writers === 0) seg.close();
    }
  }

  async #openSegment(): Promise<ActiveSegment> {
    const name = `${process.pid}.${Date.now()}.${++this.#segmentSeq}`;
    const fd = openSync(join(this.segDir, name), 'wx', 0o640);
    const seg = new ActiveSegment(name, fd);
    // The new directory entry must be durable before any record points into the file.
    await this.#segDirSync.sync();
    if (this.#active) {
      // Another session opened one meanwhile: use theirs, drop ours (empty, unreferenced).
      closeSync(fd);
      unlinkIfExists(join(this.segDir, name));
      return this.#active;
    }
    this.#active = seg;
    return seg;
  }

  #seal(): void {
    const seg = this.#active;
    if (!seg) return;
    this.#active = null;
    seg.sealed = true;
    if (seg.writers === 0) seg.close();
    // A read handle kept here would pin the file's blocks after the primary deletes it.
    this.#closeReadFd(seg.name);
    this.#onSealed(seg.name);
  }

  /** Seal the current segment (drain, shutdown) and stop the idle timer. */
  close(): void {
    clearInterval(this.#idleTimer);
    this.#seal();
    for (const fd of this.#readFds.values()) closeSync(fd);
    this.#readFds.clear();
  }

  /**
   * The message as a stream. A segment body or a file up to 256 KiB is read in one call; a
   * larger file streams in 64 KiB chunks.
   */
  open(qid: string, where: BodyLocation, sizeHint = Infinity): Readable {
    try {
      if (where.kind === 'segment') {
        const buf = Buffer.allocUnsafe(where.length);
        const fd = this.#readFd(where.segment);
        let done = 0;
        while (done < where.length) {
          const n = readSync(fd, buf, done, where.length - done, where.offset + done);
          if (n === 0) throw Object.assign(new Error(`segment ${where.segment} is shorter than its record (${where.offset}+${where.length})`), { code: 'ESPOOLSHORT' });
          done += n;
        }
        return Readable.from([buf], { objectMode: false });
      }
      if (sizeHint <= SEGMENT_MESSAGE_MAX) return Readable.from([readFileSync(this.pathOf(qid))], { objectMode: false });
      return createReadStream(this.pathOf(qid), { highWaterMark: 64 * 1024 });
    } catch (err) {
      return new Readable({ read() { this.destroy(err as Error); } });
    }
  }

  #closeReadFd(segment: string): void {
    const fd = this.#readFds.get(segment);
    if (fd === undefined) return;
    closeSync(fd);
    this.#readFds.delete(segment);
  }

  #readFd(segment: string): number {
    let fd = this.#readFds.get(segment);
    if (fd === undefined) {
      if (this.#readFds.size >= 64) {
        const [oldest, oldFd] = this.#readFds.entries().next().value as [string, number];
        closeSync(oldFd);
        this.#readFds.delete(oldest);
      }
      fd = openSync(join(this.segDir, segment), 'r');
      this.#readFds.set(segment, fd);
    }
    return fd;
  }

  /** Why a queued body cannot be read back (missing file, short segment), or null when it can. */
  check(qid: string, where: BodyLocation): string | null {
    try {
      if (where.kind === 'file') {
        statSync(this.pathOf(qid));
        return null;
      }
      const size = fstatSync(this.#readFd(where.segment)).size;
      return size >= where.offset + where.length ? null : `segment ${where.segment} ends at ${size}, before ${where.offset}+${where.length}`;
    } catch (err) {
      return `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${where.kind === 'file' ? this.pathOf(qid) : where.segment}`;
    }
  }

  /** Forget a finished message: its own file is unlinked; a segment body waits for gc. */
  remove(qid: string, where: BodyLocation): void {
    if (where.kind === 'file') unlinkIfExists(this.pathOf(qid));
  }

  /**
   * Delete sealed segments no record points into, and (with `files`) message files without a
   * record. `isSealed` decides for segments of other processes (receivers report sealing, and
   * a dead receiver's segments are sealed by definition). Returns what was removed.
   */
  gc(referenced: ReadonlySet<string>, isSealed: (segment: string) => boolean, unreferencedFiles: readonly string[] = []): { segments: number; files: number } {
    let segments = 0;
    for (const name of readdirSync(this.segDir)) {
      if (referenced.has(name) || name === this.#active?.name || !isSealed(name)) continue;
      this.#closeReadFd(name);
      unlinkIfExists(join(this.segDir, name));
      segments++;
    }
    for (const qid of unreferencedFiles) unlinkIfExists(this.pathOf(qid));
    return { segments, files: unreferencedFiles.length };
  }

  listFiles(): string[] {
    return readdirSync(this.dir);
  }

  listSegments(): string[] {
    return readdirSync(this.segDir);
  }
}

/** The process that wrote a segment: its name starts with the writer's pid. */
export function segmentOwner(segment: string): number {
  return Number(segment.slice(0, segment.indexOf('.')));
}

class ActiveSegment {
  size = 0;
  writers = 0;
  sealed = false;
  lastWrite = Date.now();
  readonly sync: FsyncCoalescer;
  #closed = false;

  constructor(readonly name: string, readonly fd: number) {
    this.sync = new FsyncCoalescer(async () => ({ sync: () => fdatasync(fd) }));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.fd);
  }
}

/** A body too large for a segment: its own file, written as chunks arrive (1 MiB writev). */
class FileWriter {
  readonly #path: string;
  readonly #fd: number;
  #pending: Buffer[] = [];
  #bytes = 0;

  constructor(path: string) {
    this.#path = path;
    this.#fd = openSync(path, 'wx', 0o640);
  }

  add(chunk: Buffer): void {
    this.#pending.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= 1024 * 1024 || this.#pending.length >= 512) this.#flush();
  }

  #flush(): void {
    if (this.#pending.length > 0) writeAllSync(this.#fd, this.#pending);
    this.#pending = [];
    this.#bytes = 0;
  }

  async finish(): Promise<void> {
    this.#flush();
    await fdatasync(this.#fd);
    closeSync(this.#fd);
  }

  abort(): void {
    try { closeSync(this.#fd); } catch { /* already closed */ }
    unlinkIfExists(this.#path);
  }
}

/**
 * Coalesces fsync calls on one file or directory: callers that arrive while one runs share the
 * next (it may have started before their write, so they cannot share the running one).
 */
class FsyncCoalescer {
  readonly #open: () => Promise<{ sync(): Promise<void> }>;
  #handle: Promise<{ sync(): Promise<void> }> | null = null;
  #running: Promise<void> | null = null;
  #next: Promise<void> | null = null;

  constructor(open: () => Promise<{ sync(): Promise<void> }>) {
    this.#open = open;
  }

  sync(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#fsync().finally(() => { this.#running = null; });
      return this.#running;
    }
    if (!this.#next) {
      const again = () => {
        this.#next = null;
        return this.sync();
      };
      this.#next = this.#running.then(again, again);
    }
    return this.#next;
  }

  async #fsync(): Promise<void> {
    this.#handle ??= this.#open();
    try {
      await (await this.#handle).sync();
    } catch (err) {
      this.#handle = null;
      throw err;
    }
  }
}

/** A directory stays open for the process's life: saves an open and a close per sync. */
function dirHandle(dir: string): Promise<promises.FileHandle> {
  return fsp.open(dir, 'r');
}

/** Not rm({force}): that costs two lstat calls per file (rimraf); spool entries are never directories. */
function unlinkIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** writev until every byte is written (a short write is legal, e.g. near a full disk). */
function writeAllSync(fd: number, chunks: Buffer[], position?: number): void {
  let rest = chunks;
  let pos = position;
  while (rest.length > 0) {
    let n = pos === undefined ? writevSync(fd, rest) : writevSync(fd, rest, pos);
    if (pos !== undefined) pos += n;
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
