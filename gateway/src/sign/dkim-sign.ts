/*
 * sign/dkim-sign.ts — DKIM signatures (RFC 6376, Ed25519 per RFC 8463) over a message stream.
 *
 * Input: the message exactly as it will go out (a Readable) and the domain's keys → output: one
 * DKIM-Signature header value per key, ready to prepend (the first one ends up on top).
 * relaxed/relaxed canonicalization; From, To, Subject, Date and Message-ID are oversigned
 * (RFC 6376 §8.15: listed once more than present, so nobody can add one after us). Written here
 * rather than with mailauth's dkimSign because mailauth 4.13 cannot oversign (its h= only lists
 * fields present). Streams the body (never held in memory); the header block is bounded.
 * Does not pick keys or domains (sign/index.ts) and does no DNS. Runs in receiver workers.
 */
import { createHash, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';

export interface SigningKey {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: 'rsa-sha256' | 'ed25519-sha256';
  readonly key: KeyObject;
}

/** Fields we sign when present (RFC 6376 §5.4.1 recommendations, RFC 2369/2919 list fields). */
export const SIGNED_HEADERS: readonly string[] = [
  'from', 'sender', 'reply-to', 'subject', 'date', 'message-id', 'to', 'cc', 'mime-version', 'content-type',
  'content-transfer-encoding', 'content-id', 'content-description', 'in-reply-to', 'references',
  'list-id', 'list-help', 'list-unsubscribe', 'list-unsubscribe-post', 'list-subscribe', 'list-post', 'list-owner', 'list-archive',
];
/** Listed one more time than present. */
export const OVERSIGNED: ReadonlySet<string> = new Set(['from', 'to', 'subject', 'date', 'message-id']);

/** Header blocks above this are refused (the spool keeps at most this much header anyway). */
const MAX_HEADER_BYTES = 1024 * 1024;

interface Field { readonly name: string; readonly raw: string }

/** Sign `message` with every key; returns the DKIM-Signature values (without "DKIM-Signature: "). */
export async function dkimSignatures(message: Readable, keys: readonly SigningKey[], now = new Date()): Promise<string[]> {
  if (keys.length === 0) return [];
  const { fields, bodyHash } = await readMessage(message);
  const t = Math.floor(now.getTime() / 1000);
  const hList = headerList(fields);
  const signed = pickFields(fields, hList).map((f) => `${relaxedHeader(f.raw)}\r\n`).join('');
  return keys.map((k) => {
    const unsigned = `v=1; a=${k.algorithm}; c=relaxed/relaxed; d=${k.domain}; s=${k.selector};\r\n\tt=${t}; h=${hList.join(':')};\r\n\tbh=${bodyHash}; b=`;
    const data = Buffer.from(signed + relaxedHeader(`DKIM-Signature: ${unsigned}`), 'latin1');
    const sig = k.algorithm === 'rsa-sha256'
      ? cryptoSign('sha256', data, k.key)
      : cryptoSign(null, createHash('sha256').update(data).digest(), k.key);
    return unsigned + fold(sig.toString('base64'));
  });
}

/** h= list: each signed field as often as present, oversigned ones once more. */
export function headerList(fields: readonly Field[]): string[] {
  const count = new Map<string, number>();
  for (const f of fields) count.set(f.name, (count.get(f.name) ?? 0) + 1);
  const out: string[] = [];
  for (const name of SIGNED_HEADERS) {
    const n = (count.get(name) ?? 0) + (OVERSIGNED.has(name) ? 1 : 0);
    for (let i = 0; i < n; i++) out.push(name);
  }
  return out;
}

/** RFC 6376 §5.4.2: each name takes the last not yet used instance, bottom up; missing ones add nothing. */
function pickFields(fields: readonly Field[], hList: readonly string[]): Field[] {
  const used = new Set<number>();
  const out: Field[] = [];
  for (const name of hList) {
    for (let i = fields.length - 1; i >= 0; i--) {
      if (!used.has(i) && fields[i]!.name === name) {
        used.add(i);
        out.push(fields[i]!);
        break;
      }
    }
  }
  return out;
}

/** RFC 6376 §3.4.2, without the trailing CRLF. */
export function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).replace(/[ \t]+$/, '').toLowerCase();
  const value = raw.slice(colon + 1).replace(/\r?\n/g, '').replace(/[ \t]+/g, ' ').trim();
  return `${name}:${value}`;
}

function fold(b64: string): string {
  return b64.replace(/.{1,72}/g, (s, off: number) => (off === 0 ? s : `\r\n\t${s}`));
}

/** Split off the header fields, hash the body with relaxed canonicalization (RFC 6376 §3.4.4), streaming. */
async function readMessage(message: Readable): Promise<{ fields: Field[]; bodyHash: string }> {
  let head = '';
  let inBody = false;
  const body = new RelaxedBody();
  for await (const chunk of message as AsyncIterable<Buffer>) {
    if (inBody) {
      body.write(chunk.toString('latin1'));
      continue;
    }
    head += chunk.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end !== -1) {
      inBody = true;
      body.write(head.slice(end + 4));
      head = head.slice(0, end + 2);
    } else if (head.length > MAX_HEADER_BYTES) {
      message.destroy();
      throw new Error('header block too large to sign');
    }
  }
  return { fields: parseFields(head), bodyHash: body.digest() };
}

function parseFields(block: string): Field[] {
  const fields: Field[] = [];
  for (const line of block.split(/(?<=\r\n)/)) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && fields.length > 0) {
      const last = fields[fields.length - 1]!;
      fields[fields.length - 1] = { name: last.name, raw: last.raw + line };
    } else {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      fields.push({ name: line.slice(0, colon).trim().toLowerCase(), raw: line });
    }
  }
  return fields.map((f) => ({ name: f.name, raw: f.raw.replace(/\r\n$/, '') }));
}

/** Relaxed body canonicalization fed in arbitrary chunks: lines are held back until complete. */
class RelaxedBody {
  readonly #hash = createHash('sha256');
  #partial = '';
  #emptyRun = 0;

  write(text: string): void {
    const parts = (this.#partial + text).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const line of parts) this.#line(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  #line(line: string): void {
    const canon = line.replace(/[ \t]+/g, ' ').replace(/ $/, '');
    if (canon === '') {
      this.#emptyRun++;
      return;
    }
    if (this.#emptyRun > 0) this.#hash.update('\r\n'.repeat(this.#emptyRun), 'latin1');
    this.#emptyRun = 0;
    this.#hash.update(`${canon}\r\n`, 'latin1');
  }

  digest(): string {
    if (this.#partial !== '') this.#line(this.#partial);
    this.#partial = '';
    return this.#hash.digest('base64');
  }
}
