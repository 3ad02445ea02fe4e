/*
 * rules/content.ts — what body conditions look at: the text of the message and its attachments
 * (names and content types, also the names inside zip archives), parsed with postal-mime and
 * listed with yauzl (central directory only: nothing is decompressed).
 *
 * Bounded: a message over maxParseBytes is not parsed (its body conditions cannot be judged and
 * say so), at most ZIP_MAX_ENTRIES names per archive, nested archives are not opened. Only
 * called when an enabled rule has a body or attachment condition (rules/load.ts `needs`), so a
 * rule set without them never reads the body back. Runs in receiver workers and the CLI.
 */
import type { MimeNode } from '@zone-eu/mailsplit';
import type { Entry } from 'yauzl';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface AttachmentInfo {
  readonly filename: string;
  readonly contentType: string;
  /** The archive it was found in, for names listed from a zip. */
  readonly inZip?: string;
}

export interface MessageContent {
  /** text/plain parts, then HTML with the tags removed. */
  readonly text: string;
  readonly attachments: readonly AttachmentInfo[];
  /** Why the content is partial (zip unreadable, ...), for the trace. */
  readonly notes: readonly string[];
}

// The parsers (mailsplit, postal-mime, yauzl: ~25 MB RSS together) are imported at first use,
// so a process whose rules never look at a body does not load them. Cached by the module system.
const mailsplit = () => import('@zone-eu/mailsplit');
const postalMime = async () => (await import('postal-mime')).default;
const yauzlLib = async () => (await import('yauzl')).default;

const ZIP_MAX_ENTRIES = 1000;
const ZIP_MAX_BYTES = 32 * 1024 * 1024;

export async function readAll(source: Readable, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      source.destroy();
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Attachments only (names, types, zip listings), without decoding any part but zips: the MIME
 * structure from mailsplit's Splitter, which passes bodies through as raw chunks. Much cheaper
 * than a full parse when no rule looks at the text (the default rule set).
 */
export async function scanAttachments(raw: Buffer): Promise<MessageContent> {
  const attachments: AttachmentInfo[] = [];
  const notes: string[] = [];
  const zips: Array<{ filename: string; chunks: Buffer[]; node: MimeNode }> = [];
  let current: { filename: string; chunks: Buffer[]; node: MimeNode } | null = null;
  const { Splitter } = await mailsplit();
  await pipeline(Readable.from([raw]), new Splitter({ maxHeadSize: 256 * 1024, ignoreEmbedded: true }), new Writable({
    objectMode: true,
    write(chunk: MimeNode | { type: 'body' | 'data'; node: MimeNode; value: Buffer }, _enc, cb) {
      if (chunk.type === 'node') {
        const node = chunk as MimeNode;
        current = null;
        if (node.root || node.multipart) return cb();
        const filename = node.filename || '';
        const isAttachment = node.disposition === 'attachment' || filename !== '' || !/^(text\/(plain|html)|multipart\/)/i.test(node.contentType || 'text/plain');
        if (!isAttachment) return cb();
        const contentType = (node.contentType || 'application/octet-stream').toLowerCase();
        attachments.push({ filename, contentType });
        if (/\.zip$/i.test(filename) || /^application\/(x-)?zip(-compressed)?$/.test(contentType)) {
          current = { filename, chunks: [], node };
          zips.push(current);
        }
      } else if (chunk.type === 'body' && current) {
        current.chunks.push(chunk.value);
      }
      cb();
    },
  }));
  for (const z of zips) {
    const decoded = await decode(z.node, Buffer.concat(z.chunks));
    await listZip(decoded, z.filename, attachments, notes);
  }
  return { text: '', attachments, notes };
}

async function decode(node: MimeNode, encoded: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  const decoder = node.getDecoder();
  decoder.on('data', (c: Buffer) => out.push(c));
  await new Promise<void>((resolve, reject) => {
    decoder.once('end', resolve);
    decoder.once('error', reject);
    decoder.end(encoded);
  });
  return Buffer.concat(out);
}

async function listZip(buf: Buffer, filename: string, attachments: AttachmentInfo[], notes: string[]): Promise<void> {
  if (buf.length > ZIP_MAX_BYTES) {
    notes.push(`zip ${filename} not listed: over ${ZIP_MAX_BYTES} bytes`);
    return;
  }
  try {
    for (const name of await zipNames(buf)) attachments.push({ filename: name, contentType: 'application/octet-stream', inZip: filename });
  } catch (err) {
    notes.push(`zip ${filename} not listed: ${(err as Error).message}`);
    attachments.push({ filename: `${filename}#unreadable`, contentType: 'application/x-unreadable-zip', inZip: filename });
  }
}

/** Parse a whole message, text included (bytes already bounded by the caller). */
export async function parseContent(raw: Buffer): Promise<MessageContent> {
  const PostalMime = await postalMime();
  const email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
  const notes: string[] = [];
  const attachments: AttachmentInfo[] = [];
  for (const a of email.attachments) {
    const filename = a.filename ?? '';
    attachments.push({ filename, contentType: a.mimeType.toLowerCase() });
    if (/\.zip$/i.test(filename) || /^application\/(x-)?zip(-compressed)?$/i.test(a.mimeType)) await listZip(Buffer.from(a.content as ArrayBuffer), filename, attachments, notes);
  }
  const html = email.html ? email.html.replace(/<style[\s\S]*?<\/style>|<script[\s\S]*?<\/script>/gi, ' ').replace(/<[^>]*>/g, ' ').replace(/&nbsp;/g, ' ') : '';
  return { text: `${email.text ?? ''}\n${html}`, attachments, notes };
}

/** File names in a zip's central directory (directories skipped). */
export async function zipNames(buf: Buffer): Promise<string[]> {
  const yauzl = await yauzlLib();
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true, validateEntrySizes: false, strictFileNames: false, decodeStrings: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('not a zip archive'));
      const names: string[] = [];
      zip.on('entry', (e: Entry) => {
        if (!e.fileName.endsWith('/')) names.push(e.fileName);
        if (names.length >= ZIP_MAX_ENTRIES) {
          zip.close();
          return resolve(names);
        }
        zip.readEntry();
      });
      zip.on('end', () => resolve(names));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/**
 * Whether the message can hold attachments at all, from its top Content-Type alone: a single
 * text/* part cannot, so attachment-only rule sets skip the parse for plain mail.
 */
export function mayHaveParts(contentType: string | null): boolean {
  if (!contentType) return false;
  return !/^\s*text\/(plain|html)\b/i.test(contentType);
}
