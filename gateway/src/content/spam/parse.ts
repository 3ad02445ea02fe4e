/*
 * content/spam/parse.ts — one parse of a message for the spam scoring (mailparser), bounded.
 *
 * The raw message is cut at `maxBytes` before parsing (a huge attachment costs time, not
 * evidence: the text that decides is near the top); what is cut is recorded so the check can
 * say so. The result keeps only what the tokenizer, the heuristics and the feature extractor
 * need: header lines, decoded text and HTML, and attachment metadata (never attachment bytes).
 * A message mailparser refuses is scored on its headers alone (marked truncated).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { simpleParser } from 'mailparser';
import { parseHeaders } from '../headers.js';
import type { RelayTrust } from './sa-relays.js';

export interface ParsedAttachment {
  readonly filename: string | null;
  readonly contentType: string;
  readonly size: number;
  /** The first bytes of the attachment (magic numbers, macro markers), at most 64 KiB. */
  readonly head: Buffer;
}

export interface ParsedMessage {
  /** Header lines in order: lower-case name, value as received (unfolded). */
  readonly headers: ReadonlyArray<{ readonly name: string; readonly value: string; /** The name as written (SpamAssassin's Bayes keeps its case). */ readonly rawName?: string }>;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly attachments: readonly ParsedAttachment[];
  readonly messageId: string | null;
  /** The raw bytes were longer than the limit and were cut before parsing. */
  readonly truncated: boolean;
  /** Raw size in bytes (before the cut). */
  readonly size: number;
  /** The raw bytes that were parsed (for the feature extractor and GTUBE). */
  readonly raw: Buffer;
  /** Whose Received headers to believe (spam.trustedNetworks; null: inferred). sa-relays.ts. */
  readonly relayTrust: RelayTrust;
}

/** 1 MiB: SpamAssassin skips mail over 500 KB entirely; we keep the top of larger mail. */
export const DEFAULT_MAX_BYTES = 1024 * 1024;
const MAX_TEXT = 256 * 1024;
const ATTACHMENT_HEAD = 64 * 1024;

export async function readBounded(stream: Readable, maxBytes: number): Promise<{ raw: Buffer; size: number }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (kept < maxBytes) {
      const part = chunk.length + kept > maxBytes ? chunk.subarray(0, maxBytes - kept) : chunk;
      chunks.push(part);
      kept += part.length;
    }
  }
  return { raw: Buffer.concat(chunks), size };
}

// mailparser (~27 MB RSS) is imported at the first parse, not when this module loads.
let parser: Promise<typeof simpleParser> | null = null;
function loadParser(): Promise<typeof simpleParser> {
  if (!parser) {
    parser = import('mailparser').then((m) => m.simpleParser);
    parser.catch(() => { parser = null; });
  }
  return parser;
}

export async function parseMessage(raw: Buffer, size = raw.length, maxBytes = DEFAULT_MAX_BYTES, relayTrust: RelayTrust = null): Promise<ParsedMessage> {
  const simpleParser = await loadParser();
  const cut = raw.length > maxBytes ? raw.subarray(0, maxBytes) : raw;
  let mail: Awaited<ReturnType<typeof simpleParser>>;
  try {
    mail = await simpleParser(cut, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true, maxHtmlLengthToParse: MAX_TEXT });
  } catch {
    // mailparser refuses some hostile shapes (a header block over 1 MiB): score what our own
    // header parser sees rather than refuse to judge (which would defer the message forever).
    const headers = parseHeaders(cut.subarray(0, 256 * 1024).toString('utf8')).map((h) => ({ name: h.name.toLowerCase(), value: h.value }));
    const messageId = headers.find((h) => h.name === 'message-id')?.value ?? null;
    return {
      headers, subject: headers.find((h) => h.name === 'subject')?.value ?? '', text: '', html: '', attachments: [],
      messageId, truncated: true, size: Math.max(size, raw.length), raw: cut, relayTrust,
    };
  }
  const headers = mail.headerLines.map((h) => {
    const colon = h.line.indexOf(':');
    return {
      name: h.key.toLowerCase(), rawName: colon === -1 ? h.key : h.line.slice(0, colon).replace(/[ \t]+$/, ''),
      value: (colon === -1 ? '' : h.line.slice(colon + 1)).replace(/\r?\n[ \t]+/g, ' ').trim(),
    };
  });
  const html = typeof mail.html === 'string' ? mail.html.slice(0, MAX_TEXT) : '';
  return {
    headers,
    subject: mail.subject ?? '',
    text: (mail.text ?? '').slice(0, MAX_TEXT),
    html,
    attachments: mail.attachments.map((a) => ({
      filename: a.filename ?? null,
      contentType: (a.contentType ?? 'application/octet-stream').toLowerCase(),
      size: a.size ?? a.content.length,
      head: Buffer.from(a.content.subarray(0, ATTACHMENT_HEAD)),
    })),
    messageId: mail.messageId ?? null,
    truncated: cut.length < size || raw.length > maxBytes,
    size: Math.max(size, raw.length),
    raw: cut,
    relayTrust,
  };
}

/**
 * The key a learning record is kept under: the Message-ID when there is one (the same message
 * learned from a file and from the quarantine is one record), else a hash of the raw bytes.
 */
export function learnKey(parsed: Pick<ParsedMessage, 'messageId' | 'raw'>): string {
  if (parsed.messageId) return `mid:${parsed.messageId.toLowerCase()}`;
  return `sha256:${createHash('sha256').update(parsed.raw).digest('hex')}`;
}
