/*
 * rules/transform.ts — the body rewrites rules ask for: disclaimers and attachment stripping.
 *
 * raw message bytes + BodyTransform[] → new raw message bytes (or the same bytes, unchanged,
 * with the reason). Uses mailsplit (Splitter → strip → Rewriter → Joiner): untouched parts keep
 * their exact bytes, touched text parts are decoded, changed and re-encoded (charset utf-8,
 * quoted-printable unless they were base64). A disclaimer goes into the first text/plain part
 * and the first text/html part that are not attachments — so both halves of a
 * multipart/alternative get it. A stripped attachment is replaced by a short text/plain part.
 * Signed or encrypted mail (multipart/signed, multipart/encrypted, application/pkcs7-mime:
 * S/MIME and PGP/MIME) is left intact: changing it would break the signature the recipient checks.
 * The caller (listen/server.ts) spools the result before DKIM signing and before the 250.
 * Runs in receiver workers and the CLI.
 */
import type { MimeNode, SplitterChunk } from '@zone-eu/mailsplit';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decodeCharset, type BodyTransform } from '../core/index.js';

export interface TransformResult {
  readonly body: Buffer;
  /** What was done, for the log and the trace ('disclaimer text', 'stripped a.exe', ...). */
  readonly applied: string[];
  /** Why nothing was changed (signed mail), or null. */
  readonly skipped: string | null;
}

const SIGNED = /^\s*(multipart\/(signed|encrypted)|application\/(x-)?pkcs7-mime)\b/i;

export function isSignedOrEncrypted(contentType: string | null): boolean {
  return contentType !== null && SIGNED.test(contentType);
}

function within(node: MimeNode, ancestor: MimeNode): boolean {
  for (let n: MimeNode | false = node; n; n = n.parentNode as MimeNode | false) if (n === ancestor) return true;
  return false;
}

function insideEmbedded(node: MimeNode): boolean {
  for (let n = node.parentNode as MimeNode | false; n; n = n.parentNode as MimeNode | false) if (n.rfc822) return true;
  return false;
}

function isAttachment(node: MimeNode): boolean {
  return !node.root && !node.multipart && (node.disposition === 'attachment' || Boolean(node.filename));
}

function wrap76(b64: string): string {
  return (b64.match(/.{1,76}/g) ?? []).join('\r\n');
}

/** Replaces matching attachment nodes by a text/plain note; drops their bodies (and children). */
class AttachmentStripper extends Transform {
  readonly applied: string[] = [];
  #dropping: MimeNode | null = null;
  readonly #strips: ReadonlyArray<Extract<BodyTransform, { op: 'strip-attachments' }>>;

  constructor(strips: ReadonlyArray<Extract<BodyTransform, { op: 'strip-attachments' }>>) {
    super({ readableObjectMode: true, writableObjectMode: true });
    this.#strips = strips;
  }

  override _transform(chunk: SplitterChunk, _enc: BufferEncoding, cb: TransformCallback): void {
    const node = chunk.type === 'node' ? (chunk as MimeNode) : (chunk as { node: MimeNode }).node;
    if (this.#dropping && within(node, this.#dropping)) {
      // The multipart boundary after the dropped part belongs to its parent and is kept.
      if (chunk.type === 'data' && node === this.#dropping) return cb(null, chunk);
      return cb();
    }
    this.#dropping = null;
    if (chunk.type !== 'node' || !isAttachment(node) || insideEmbedded(node)) return cb(null, chunk);
    const filename = node.filename || '(unnamed)';
    const type = (node.contentType || 'application/octet-stream').toLowerCase();
    const strip = this.#strips.find((s) => {
      const names = s.names.map((r) => new RegExp(r, 'iu'));
      const types = s.types.map((r) => new RegExp(r, 'iu'));
      if (names.length === 0 && types.length === 0) return true;
      return names.some((r) => r.test(filename)) || types.some((r) => r.test(type));
    });
    if (!strip) return cb(null, chunk);
    this.applied.push(`stripped ${filename} (${type}) by ${strip.rule}`);
    const headers = node.headers;
    if (headers) {
      for (const h of ['Content-Type', 'Content-Disposition', 'Content-Transfer-Encoding', 'Content-ID', 'Content-Description', 'Content-Location']) headers.remove(h);
      headers.add('Content-Type', 'text/plain; charset=utf-8');
      headers.add('Content-Disposition', 'inline');
      headers.add('Content-Transfer-Encoding', 'base64');
    }
    this.push(node);
    const note = strip.note.replace(/\{\{filename\}\}/g, filename);
    this.push({ node, type: 'body', value: Buffer.from(`${wrap76(Buffer.from(`${note}\n`, 'utf8').toString('base64'))}\r\n`) });
    this.#dropping = node;
    cb();
  }
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function decodeText(buf: Buffer, charset: string | false): string {
  try {
    return decodeCharset(buf, charset || 'utf-8');
  } catch {
    return buf.toString('latin1');
  }
}

/** Apply the transforms to a whole message. `contentType` is the top-level Content-Type header. */
export async function transformBody(raw: Buffer, contentType: string | null, transforms: readonly BodyTransform[]): Promise<TransformResult> {
  if (transforms.length === 0) return { body: raw, applied: [], skipped: null };
  if (isSignedOrEncrypted(contentType)) return { body: raw, applied: [], skipped: 'signed or encrypted message left intact' };
  const strips = transforms.filter((t): t is Extract<BodyTransform, { op: 'strip-attachments' }> => t.op === 'strip-attachments');
  const disclaimers = transforms.filter((t): t is Extract<BodyTransform, { op: 'disclaimer' }> => t.op === 'disclaimer');
  // mailsplit is imported here, at the first transform, not when the receiver starts.
  const { Joiner, Rewriter, Splitter } = await import('@zone-eu/mailsplit');
  const applied: string[] = [];
  let plainDone = false;
  let htmlDone = false;
  const rewriter = new Rewriter((node: MimeNode) => {
    if (disclaimers.length === 0 || isAttachment(node) || insideEmbedded(node) || node.multipart) return false;
    if (node.contentType === 'text/plain' && !plainDone) return (plainDone = true);
    if (node.contentType === 'text/html' && !htmlDone) return (htmlDone = true);
    // A message without any Content-Type is text/plain (RFC 2045 §5.2).
    if (node.root && !node.contentType && !plainDone) return (plainDone = true);
    return false;
  });
  rewriter.on('node', ({ node, decoder, encoder }) => {
    const chunks: Buffer[] = [];
    decoder.on('data', (c: Buffer) => chunks.push(c));
    decoder.on('end', () => {
      let text = decodeText(Buffer.concat(chunks), node.charset);
      const html = node.contentType === 'text/html';
      for (const d of disclaimers) {
        if (text.includes(d.marker ?? d.text)) continue;
        if (html) {
          const fragment = d.html ?? `<pre style="font-family:inherit">${escapeHtml(d.text)}</pre>`;
          const at = text.search(/<\/body\s*>/i);
          text = at === -1 ? `${text}\n${fragment}\n` : `${text.slice(0, at)}${fragment}\n${text.slice(at)}`;
        } else {
          text = `${text.replace(/\s*$/, '')}\r\n\r\n-- \r\n${d.text.replace(/\r?\n/g, '\r\n').replace(/\s*$/, '')}\r\n`;
        }
        applied.push(`disclaimer (${html ? 'html' : 'plain'}) by ${d.rule}`);
      }
      node.setCharset('utf-8');
      encoder.end(Buffer.from(text, 'utf8'));
    });
  });
  const stripper = new AttachmentStripper(strips);
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([raw]),
    new Splitter({ maxHeadSize: 256 * 1024, ignoreEmbedded: true }),
    stripper,
    rewriter,
    new Joiner(),
    async function* collect(source: AsyncIterable<Buffer>) {
      for await (const c of source) out.push(c);
    },
  );
  applied.unshift(...stripper.applied);
  if (applied.length === 0) return { body: raw, applied, skipped: 'nothing to change' };
  return { body: Buffer.concat(out), applied, skipped: null };
}
