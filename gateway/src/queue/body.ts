/*
 * queue/body.ts — the message as it goes out: the verdict's header edits applied to the
 * immutable spool file, streamed (the body is never loaded into memory).
 * Runs in the primary for delivery, and in tests.
 */
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import type { HeaderEdit } from '../core/index.js';

/**
 * Prepend/remove header edits on the way out. Removal only applies to the header block as
 * spooled (never to the prepended fields), so one edit list can drop forged Authentication-
 * Results claiming our authserv-id and add ours.
 */
export function applyHeaderEdits(source: Readable, edits: readonly HeaderEdit[]): Readable {
  if (edits.length === 0) return source;
  const prepend = edits.filter((e) => e.op === 'prepend').map((e) => `${e.name}: ${e.value}\r\n`).join('');
  const removals: Removals = new Map();
  for (const e of edits) {
    if (e.op !== 'remove') continue;
    const name = e.name.toLowerCase();
    const ids = removals.get(name);
    // An unconditional removal of a name wins over any matched one.
    if (!e.match || ids === 'all') removals.set(name, 'all');
    else removals.set(name, new Set([...(ids ?? []), e.match.authservId.toLowerCase()]));
  }
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

/** Header name (lower case) → remove every field, or only those whose authserv-id is in the set. */
type Removals = Map<string, 'all' | Set<string>>;

/** Buffers the header block (bounded by spool limits), drops named fields, then passes the body through. */
class HeaderRemover extends Transform {
  #head: Buffer[] = [];
  #headBytes = 0;
  #inBody = false;
  readonly #prepend: string;
  readonly #names: Removals;

  constructor(prepend: string, names: Removals) {
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

function filterHeaders(block: string, names: Removals): string {
  // Whole fields (first line plus continuations), so a matched removal sees the unfolded value.
  const fields: string[] = [];
  for (const line of block.split(/(?<=\r\n)/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1] += line;
    else fields.push(line);
  }
  return fields.filter((field) => {
    const colon = field.indexOf(':');
    if (colon <= 0) return true;
    const rule = names.get(field.slice(0, colon).trim().toLowerCase());
    if (rule === undefined) return true;
    if (rule === 'all') return false;
    const id = authservIdOf(field.slice(colon + 1));
    return id === null || !rule.has(id);
  }).join('');
}

/**
 * The authserv-id of an Authentication-Results value (RFC 8601 §2.2: `authserv-id [ CFWS
 * authres-version ] ( no-result / 1*resinfo )`), lower-cased; comments are skipped. Null when
 * there is none, so an unparsable field is kept rather than guessed at.
 */
export function authservIdOf(value: string): string | null {
  let v = value.replace(/\r?\n[ \t]/g, ' ');
  // Comments may nest (RFC 5322 §3.2.2); peel innermost ones until none are left.
  for (let prev = ''; prev !== v;) {
    prev = v;
    v = v.replace(/\([^()]*\)/g, ' ');
  }
  const m = /^\s*("(?:[^"\\]|\\.)*"|[^\s;]+)/.exec(v);
  if (!m?.[1]) return null;
  const id = m[1].startsWith('"') ? m[1].slice(1, -1).replace(/\\(.)/g, '$1') : m[1];
  return id.toLowerCase();
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
