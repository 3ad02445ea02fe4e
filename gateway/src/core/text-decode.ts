/*
 * core/text-decode.ts — bytes in a MIME charset label to text, as the WHATWG Encoding Standard
 * reads them (TextDecoder), except that Windows-1252 goes through iconv-lite: Node 20's
 * TextDecoder reads 0x80–0x9F of windows-1252 — and of every label the standard maps to it:
 * iso-8859-1, latin1, us-ascii … — as Latin-1 control characters (nodejs/node#60888, a
 * regression since 20.18.3), so smart quotes, dashes, ellipses and the euro sign were lost.
 */
import { createRequire } from 'node:module';

// iconv-lite's tables cost ~8 MB of RSS: loaded at the first Windows-1252 text, not with core/.
let iconv: typeof import('iconv-lite') | null = null;
const windows1252 = (bytes: Buffer): string => (iconv ??= createRequire(import.meta.url)('iconv-lite') as typeof import('iconv-lite')).decode(bytes, 'win1252');

/** The WHATWG encoding a label names, or null for an unknown label. */
export function encodingOf(label: string): string | null {
  try {
    return new TextDecoder(label.trim()).encoding;
  } catch {
    return null;
  }
}

/**
 * The bytes as text in `label`'s charset. Unknown label: throws. fatal: throws on bytes that are
 * not valid in the charset (Windows-1252 never fails).
 */
export function decodeCharset(bytes: Uint8Array, label: string, fatal = false): string {
  const encoding = encodingOf(label);
  if (encoding === null) throw new RangeError(`unknown charset ${JSON.stringify(label)}`);
  if (encoding === 'windows-1252') return windows1252(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return new TextDecoder(encoding, { fatal }).decode(bytes);
}
