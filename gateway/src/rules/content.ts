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
import PostalMime from 'postal-mime';
import yauzl from 'yauzl';
import type { Readable } from 'node:stream';

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

const ZIP_MAX_ENTRIES = 1000;
const ZIP_MAX_BYTES = 32 * 1024 * 1024;
const ZIP_TYPES = /^application\/(zip|x-zip|x-zip-compressed|octet-stream)$/i;

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

/** Parse a whole message (bytes already bounded by the caller). */
export async function parseContent(raw: Buffer): Promise<MessageContent> {
  const email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
  const notes: string[] = [];
  const attachments: AttachmentInfo[] = [];
  for (const a of email.attachments) {
    const filename = a.filename ?? '';
    attachments.push({ filename, contentType: a.mimeType.toLowerCase() });
    const isZip = /\.zip$/i.test(filename) || /zip/i.test(a.mimeType);
    if (isZip && ZIP_TYPES.test(a.mimeType) || /\.zip$/i.test(filename)) {
      const buf = Buffer.from(a.content as ArrayBuffer);
      if (buf.length > ZIP_MAX_BYTES) {
        notes.push(`zip ${filename} not listed: over ${ZIP_MAX_BYTES} bytes`);
        continue;
      }
      try {
        for (const name of await zipNames(buf)) attachments.push({ filename: name, contentType: 'application/octet-stream', inZip: filename });
      } catch (err) {
        notes.push(`zip ${filename} not listed: ${(err as Error).message}`);
        attachments.push({ filename: `${filename}#unreadable`, contentType: 'application/x-unreadable-zip', inZip: filename });
      }
    }
  }
  const html = email.html ? email.html.replace(/<style[\s\S]*?<\/style>|<script[\s\S]*?<\/script>/gi, ' ').replace(/<[^>]*>/g, ' ').replace(/&nbsp;/g, ' ') : '';
  return { text: `${email.text ?? ''}\n${html}`, attachments, notes };
}

/** File names in a zip's central directory (directories skipped). */
export function zipNames(buf: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true, validateEntrySizes: false, strictFileNames: false, decodeStrings: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('not a zip archive'));
      const names: string[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
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
