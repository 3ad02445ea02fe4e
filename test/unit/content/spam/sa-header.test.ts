/*
 * Unit tests of content/spam/sa-header.ts: header values decoded as SpamAssassin's
 * Node::_decode_header decodes them (for its rules and Bayes).
 */
import t from 'tap';
import { saDecodeHeader } from '../../../../gateway/src/content/spam/sa-header.js';

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
