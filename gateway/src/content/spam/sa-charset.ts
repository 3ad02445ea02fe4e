/*
 * content/spam/sa-charset.ts — a text part's bytes as characters, the way SpamAssassin 4.0.1's
 * Message::Node::_normalize reads them for body rules and Bayes (normalize_charset, on by
 * default; Encode::Detect is not installed with Debian's SpamAssassin, so no guessing):
 * - all ASCII: as is;
 * - valid UTF-8 is UTF-8, whatever the declared charset (spammers mislabel);
 * - then the declared charset, strictly; ISO-8859-1 means Windows-1252, as browsers read it;
 * - else Windows-1252, which cannot fail.
 * (Until 2026-11-28 Windows-1252 went through Node's TextDecoder, which reads 0x80–0x9F as
 * control characters: core/text-decode.)
 */
import { decodeCharset, encodingOf } from '../../core/index.js';

const WINDOWS_1252 = /^(?:iso-?8859-1|windows-1252|cp1252)$/i;
const ASCII_LABEL = /^(?:us-)?ascii$/i;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function normalizeCharset(bytes: Buffer, declared: string): string {
  const latin1 = bytes.toString('latin1');
  if (!/[\x80-\xff]/.test(latin1)) return latin1;
  try {
    return UTF8.decode(bytes);
  } catch {
    // not UTF-8: the declared charset next
  }
  const label = declared.trim();
  if (label !== '' && !ASCII_LABEL.test(label) && !WINDOWS_1252.test(label)) {
    const text = strictly(bytes, label);
    if (text !== null) return text;
  }
  return decodeCharset(bytes, 'windows-1252');
}

/** The bytes in a declared charset, or null when it is unknown or they are not valid in it. */
function strictly(bytes: Buffer, label: string): string | null {
  const encoding = encodingOf(label);
  if (encoding === null) return null;
  // Other Latin-1 labels (latin1, iso_8859-1 …) are Encode's ISO-8859-1, which cannot fail.
  if (encoding === 'windows-1252') return bytes.toString('latin1');
  try {
    return decodeCharset(bytes, encoding, true);
  } catch {
    return null;
  }
}
