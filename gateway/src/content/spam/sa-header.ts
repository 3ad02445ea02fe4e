/*
 * content/spam/sa-header.ts — a header field body as SpamAssassin 4.0.1 decodes it for its rules
 * and Bayes (Message::Node::_decode_header): RFC 2047 encoded words anywhere in the value, the
 * white space between two of them dropped, adjacent words of one charset joined before their
 * bytes are decoded (bug 7249: mailers split multi-byte characters across words), each charset
 * read as _normalize reads a declared one (ISO-8859-1 as Windows-1252; an unknown label as
 * Windows-1252). Received, Message-ID, Date, MIME-Version, References, In-Reply-To and List-*
 * are left as written (bug 6945).
 */
import { decodeCharset, encodingOf } from '../../core/index.js';
import { normalizeCharset } from './sa-charset.js';

const NOT_DECODED = /^(?:Received|(?:Resent-)?(?:Message-ID|Date)|MIME-Version|References|In-Reply-To|List-.*)$/i;
const WORD = String.raw`=\?[A-Za-z0-9*_-]+\?[bqBQ]\?[^?]*\?=`;
const BETWEEN_WORDS = new RegExp(`(${WORD})\\s+(?=${WORD})`, 'g');
const SECTIONS = /=\?([A-Za-z0-9*_-]+)\?([bqBQ])\?([^?]*)\?=|([^=]+|=)/gs;

/**
 * `name`'s value decoded to characters; '' for a name skips the exclusions. `raw` is the value as
 * parsed headers hold it: its bytes as a latin1 string. 8-bit bytes are read as UTF-8 when they
 * are UTF-8 (RFC 6532), else as Windows-1252 (_normalize with UTF-8 declared).
 */
export function saDecodeHeader(name: string, raw: string): string {
  const value = /[\x80-\xff]/.test(raw) && !/[^\x00-\xff]/.test(raw) ? normalizeCharset(Buffer.from(raw, 'latin1'), 'UTF-8') : raw;
  if (!value.includes('=?') || NOT_DECODED.test(name)) return value;
  const sections: Array<{ text: string; charset: string }> = [];
  for (const m of value.replace(BETWEEN_WORDS, '$1').matchAll(SECTIONS)) {
    const charset = m[1] === undefined ? '' : m[1].toLowerCase();
    const text = m[1] === undefined ? m[4]! : wordBytes(m[2]!, m[3]!);
    const last = sections[sections.length - 1];
    if (last !== undefined && last.charset === charset) last.text += text;
    else sections.push({ text, charset });
  }
  return sections.map((s) => (s.charset === '' ? s.text : inCharset(s.text, s.charset.replace(/\*.*$/s, '')))).join('');
}

/** _decode_mime_encoded_word: the word's bytes (as a latin1 string). */
function wordBytes(encoding: string, text: string): string {
  if (encoding === 'b' || encoding === 'B') return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64').toString('latin1');
  return text.replace(/_/g, ' ').replace(/=([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function inCharset(bytes: string, charset: string): string {
  // ISO-8859-1 and cp1252 are Windows-1252 by their WHATWG labels already; an unknown label too.
  const label = encodingOf(charset) === null ? 'windows-1252' : charset;
  return decodeCharset(Buffer.from(bytes, 'latin1'), label);
}

/** The Subject as SpamAssassin's get_header('Subject') gives it (the first one, decoded): the first line of its body text. */
export function saSubject(msg: { readonly headers: ReadonlyArray<{ readonly name: string; readonly value: string }> }): string {
  const raw = msg.headers.find((h) => h.name === 'subject')?.value;
  return raw === undefined ? '' : saDecodeHeader('Subject', raw);
}
