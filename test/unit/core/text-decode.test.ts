/*
 * Unit tests of core/text-decode.ts (charset labels to text, Windows-1252 done right) and of
 * content/spam/sa-charset.ts (a text part read as SpamAssassin's _normalize reads it).
 */
import t from 'tap';
import { decodeCharset, encodingOf } from '../../../gateway/src/core/index.js';
import { normalizeCharset } from '../../../gateway/src/content/spam/sa-charset.js';

const bytes = (...xs: Array<number | string>) => Buffer.concat(xs.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from([x]))));

t.test('decodeCharset: every label WHATWG maps to windows-1252 reads 0x80-0x9F as Windows-1252', async (t) => {
  for (const label of ['windows-1252', 'ISO-8859-1', 'latin1', 'us-ascii', 'cp1252']) {
    t.equal(decodeCharset(bytes('It', 0x92, 's ', 0x80, ' ', 0x85, ' caf', 0xe9), label), 'It\u2019s \u20ac \u2026 café', label);
  }
  t.equal(decodeCharset(bytes(0x81), 'windows-1252'), '\ufffd', 'an undefined byte is U+FFFD, as Perl Encode');
  t.equal(decodeCharset(bytes(0xc0), 'windows-1251'), '\u0410', 'other charsets as TextDecoder');
  t.equal(decodeCharset(bytes('\x1b$B$3$s\x1b(B'), 'iso-2022-jp'), 'こん', 'stateful Japanese too');
  t.throws(() => decodeCharset(bytes('x'), 'x-no-such'), /unknown charset/);
  t.throws(() => decodeCharset(bytes(0xff), 'utf-8', true), 'fatal: invalid bytes throw');
  t.equal(encodingOf(' UTF8 '), 'utf-8');
  t.equal(encodingOf('x-no-such'), null);
});

t.test('normalizeCharset: SpamAssassin\'s order — ASCII, UTF-8 whatever the label, the label strictly, Windows-1252', async (t) => {
  t.equal(normalizeCharset(bytes('plain'), 'koi8-r'), 'plain');
  t.equal(normalizeCharset(bytes('\x1b$B$3$s\x1b(B'), 'ISO-2022-JP'), 'こん', '7-bit ISO-2022-JP is no ASCII: decoded');
  t.equal(normalizeCharset(Buffer.from('café ’', 'utf8'), 'iso-8859-1'), 'café ’', 'valid UTF-8 wins over a Latin-1 label');
  t.equal(normalizeCharset(bytes(0xf0, 0xd2), 'koi8-r'), '\u041f\u0440', 'the declared charset (KOI8-R "Пр")');
  t.equal(normalizeCharset(bytes('don', 0x92, 't'), 'us-ascii'), 'don\u2019t', 'ASCII declared, 8-bit inside: Windows-1252');
  t.equal(normalizeCharset(bytes('don', 0x92, 't'), 'iso-8859-1'), 'don\u2019t', 'ISO-8859-1 means Windows-1252');
  t.equal(normalizeCharset(bytes('a', 0x92), 'latin1'), 'a\u0092', 'other Latin-1 labels are strict ISO-8859-1, as Encode');
  t.equal(normalizeCharset(bytes(0x82, 0xa0), 'shift_jis'), new TextDecoder('shift_jis').decode(bytes(0x82, 0xa0)), 'Shift_JIS');
  t.equal(normalizeCharset(bytes(0x80, 'x'), 'x-unknown'), '\u20acx', 'an unknown label: Windows-1252');
});
