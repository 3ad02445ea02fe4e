/*
 * Unit tests of content/spam/sa-header.ts: header values decoded as SpamAssassin's
 * Node::_decode_header decodes them (for its rules and Bayes).
 */
import t from 'tap';
import { saDecodeHeader, saSubject } from '../../../../gateway/src/content/spam/sa-header.js';
import { parseMessage } from '../../../../gateway/src/content/spam/parse.js';

t.test('saDecodeHeader: RFC 2047 words anywhere, as SpamAssassin reads them', async (t) => {
  t.equal(saDecodeHeader('From', 'David H=?ISO-8859-1?B?9g==?=hn <dh@uptime.at>'), 'David Höhn <dh@uptime.at>', 'a word inside a word');
  t.equal(saDecodeHeader('Subject', '=?utf-8?q?caf=C3=A9?= \t =?utf-8?q?_ok?='), 'café ok', 'white space between words dropped');
  t.equal(saDecodeHeader('Subject', '=?utf-8?b?5pel?==?utf-8?b?5pys?='), '日本', 'adjacent words of one charset joined before decoding');
  t.equal(saDecodeHeader('Subject', '=?utf-8?b?5p?==?utf-8?b?el?='), '\ufffdz', 'each word\'s base64 decoded on its own, then the bytes joined (as SpamAssassin: U+FFFD z)');
  t.equal(saDecodeHeader('Subject', '=?iso-8859-1?q?It=92s?='), 'It\u2019s', 'ISO-8859-1 as Windows-1252');
  t.equal(saDecodeHeader('Subject', '=?x-unknown?q?a=80?='), 'a\u20ac', 'an unknown charset as Windows-1252');
  t.equal(saDecodeHeader('To', '=?US-ASCII*EN?Q?Keith_Moore?= <k@x.test>'), 'Keith Moore <k@x.test>', 'RFC 2231 language dropped');
  for (const name of ['Received', 'Message-ID', 'resent-message-id', 'Date', 'MIME-Version', 'References', 'In-Reply-To', 'List-Id']) {
    t.equal(saDecodeHeader(name, '=?utf-8?q?x?='), '=?utf-8?q?x?=', `${name} left as written`);
  }
  t.equal(saDecodeHeader('X-Mailer', 'a = b =? c'), 'a = b =? c', 'no word: as is');
});

t.test('raw 8-bit header bytes: UTF-8 when they are UTF-8 (RFC 6532), else Windows-1252', async (t) => {
  const latin1 = (b: Buffer) => b.toString('latin1');
  t.equal(saDecodeHeader('Subject', latin1(Buffer.from('café ’', 'utf8'))), 'café ’');
  t.equal(saDecodeHeader('Subject', latin1(Buffer.from([0x77, 0x69, 0x6e, 0x73, 0x20, 0xa3, 0x37, 0x92]))), 'wins £7\u2019');
  t.equal(saDecodeHeader('Subject', 'already ’ characters'), 'already ’ characters', 'a value with characters above U+00FF is text already');
  const msg = await parseMessage(Buffer.concat([Buffer.from('From: a@b.test\r\nSubject: Gambler wins '), Buffer.from([0xa3]), Buffer.from('7,000 =?utf-8?q?caf=C3=A9?=\r\n\r\nbody\r\n')]));
  t.equal(saSubject(msg), 'Gambler wins £7,000 café', 'the Subject SpamAssassin reads first in the body');
});
