/*
 * queue/body.ts — the message as it goes out: the verdict's header edits applied to the
 * immutable spool file, streamed (the body is never loaded into memory).
 * Runs in the primary for delivery, and in tests.
 */
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import type { HeaderEdit } from '../core/index.js';

/** Prepend/remove header edits on the way out. Removal only applies to the header block. */
export function applyHeaderEdits(source: Readable, edits: readonly HeaderEdit[]): Readable {
  if (edits.length === 0) return source;
  const prepend = edits.filter((e) => e.op === 'prepend').map((e) => `${e.name}: ${e.value}\r\n`).join('');
  const removals = new Set(edits.filter((e) => e.op === 'remove').map((e) => e.name.toLowerCase()));
  if (removals.size === 0) {
    let first = true;
    return through(source, new Transform({
      transform(chunk: Buffer, _enc, cb: TransformCallback) {
        if (first) {
          first = false;
          this.push(Buffer.from(prepend));
        }
        cb(null, chunk);
      },
    }));
  }
  return through(source, new HeaderRemover(prepend, removals));
}

/** pipeline, not pipe: a spool read error must reach the transport as an error, not a stall. */
function through(source: Readable, transform: Transform): Readable {
  return pipeline(source, transform, () => undefined);
}

/** Buffers the header block (bounded by spool limits), drops named fields, then passes the body through. */
class HeaderRemover extends Transform {
  #head: Buffer[] = [];
  #headBytes = 0;
  #inBody = false;
  readonly #prepend: string;
  readonly #names: Set<string>;

  constructor(prepend: string, names: Set<string>) {
    super();
    this.#prepend = prepend;
    this.#names = names;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#inBody) return cb(null, chunk);
    this.#head.push(chunk);
    this.#headBytes += chunk.length;
    const all = Buffer.concat(this.#head);
    const end = all.indexOf('\r\n\r\n');
    if (end === -1 && this.#headBytes < 1024 * 1024) return cb();
    const split = end === -1 ? all.length : end + 2;
    this.#inBody = true;
    this.push(Buffer.from(this.#prepend + filterHeaders(all.subarray(0, split).toString('latin1'), this.#names), 'latin1'));
    cb(null, all.subarray(split));
  }

  override _flush(cb: TransformCallback): void {
    if (!this.#inBody && this.#head.length > 0) {
      this.push(Buffer.from(this.#prepend + filterHeaders(Buffer.concat(this.#head).toString('latin1'), this.#names), 'latin1'));
    }
    cb();
  }
}

function filterHeaders(block: string, names: Set<string>): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of block.split(/(?<=\r\n)/)) {
    if (/^[ \t]/.test(line)) {
      if (!skipping) out.push(line);
      continue;
    }
    const name = line.slice(0, line.indexOf(':')).trim().toLowerCase();
    skipping = names.has(name);
    if (!skipping) out.push(line);
  }
  return out.join('');
}

/** Read the header block of a spooled message (for DSNs), bounded to 256 KiB. */
export async function readHeaderBlock(source: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    total += chunk.length;
    const all = Buffer.concat(chunks);
    const end = all.indexOf('\r\n\r\n');
    if (end !== -1 || total >= 256 * 1024) {
      source.destroy();
      return all.subarray(0, end === -1 ? Math.min(all.length, 256 * 1024) : end + 2).toString('utf8');
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
