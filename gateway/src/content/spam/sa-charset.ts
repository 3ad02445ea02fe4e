/*
 * content/spam/sa-charset.ts — a text part's bytes as characters, the way SpamAssassin 4.0.1's
 * Message::Node::_normalize reads them for body rules and Bayes (normalize_charset, on by
 * default; Encode::Detect is not installed with Debian's SpamAssassin, so no guessing):
 * - all ASCII in an ASCII-compatible charset: as is (7-bit ISO-2022-JP is decoded);
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

/** Charsets whose 7-bit text is plain ASCII (_normalize's two lists); ISO-2022-JP's is not. */
const ASCII_COMPATIBLE = /^(?:(?:US-)?ASCII|ANSI[_ ]?X3\.4-(?:1986|1968)|ISO646-US|ISO[ -]?8859(?:-\d{1,2})?|Windows-\d{4}|UTF-?8|(?:KOI8|EUC)-[A-Z]{1,2}|Big5|GBK|GB[ -]?18030(?:-20\d\d)?)$/i;

export function normalizeCharset(bytes: Buffer, declared: string): string {
  const latin1 = bytes.toString('latin1');
  const label = declared.trim();
  const eightBit = /[\x80-\xff]/.test(latin1);
  if (!eightBit && (label === '' || ASCII_COMPATIBLE.test(label))) return latin1;
  if (eightBit) {
    try {
      return UTF8.decode(bytes);
    } catch {
      // not UTF-8: the declared charset next
    }
  }
  if (label !== '' && !ASCII_LABEL.test(label) && !WINDOWS_1252.test(label)) {
    const text = strictly(bytes, label);
    if (text !== null) return text;
  }
  return eightBit ? decodeCharset(bytes, 'windows-1252') : latin1;
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
