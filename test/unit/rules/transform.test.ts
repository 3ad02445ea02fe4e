/*
 * Unit tests of body transforms (rules/transform.ts): disclaimer into both halves of a
 * multipart/alternative (checked by parsing the result with postal-mime), a plain message, the
 * marker, attachment stripping (other parts byte-identical), signed mail left intact; and zip
 * listing (rules/content.ts).
 */
import t from 'tap';
import PostalMime from 'postal-mime';
import { parseContent, transformBody } from '../../../gateway/src/rules/index.js';
import { buildMessage, makeZip } from './fixtures/mime.js';

const disclaimer = { op: 'disclaimer' as const, text: 'Confidential — Corp AG', rule: 'd' };

t.test('multipart/alternative: the disclaimer lands in the text and the HTML part, valid MIME', async (t) => {
  const raw = await buildMessage({ text: 'Hello Bob', html: '<html><body><p>Hello <b>Bob</b></p></body></html>' });
  const r = await transformBody(raw, 'multipart/alternative', [disclaimer]);
  t.same(r.applied, ['disclaimer (plain) by d', 'disclaimer (html) by d']);
  const mail = await PostalMime.parse(r.body);
  t.match(mail.text, /^Hello Bob\s*\r?\n-- \r?\nConfidential — Corp AG/);
  t.match(mail.html, /<p>Hello <b>Bob<\/b><\/p><pre[^>]*>Confidential — Corp AG<\/pre>\s*<\/body><\/html>/);
  t.equal(mail.subject, 'hello');
  const again = await transformBody(r.body, 'multipart/alternative', [disclaimer]);
  t.equal(again.skipped, 'nothing to change', 'the disclaimer is not added twice');
});

t.test('a bare text message (no MIME headers) gets the disclaimer too', async (t) => {
  const raw = Buffer.from('From: a@corp.test\r\nTo: b@x.test\r\nSubject: s\r\n\r\nplain\r\n');
  const r = await transformBody(raw, null, [disclaimer]);
  const mail = await PostalMime.parse(r.body);
  t.match(mail.text, /plain\s+-- \s+Confidential — Corp AG/);
});

t.test('a Windows-1252 or ISO-8859-1 part keeps its smart quotes, dashes and euro signs', async (t) => {
  // Bytes 0x80–0x9F: Node 20's TextDecoder read them as control characters (core/text-decode).
  for (const charset of ['windows-1252', 'iso-8859-1']) {
    const body = Buffer.concat([Buffer.from('It'), Buffer.from([0x92]), Buffer.from('s 5 '), Buffer.from([0x80]), Buffer.from(' '), Buffer.from([0x96]), Buffer.from(' caf'), Buffer.from([0xe9]), Buffer.from('\r\n')]);
    const raw = Buffer.concat([Buffer.from(`From: a@corp.test\r\nTo: b@x.test\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=${charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`), body]);
    const r = await transformBody(raw, `text/plain; charset=${charset}`, [disclaimer]);
    const mail = await PostalMime.parse(r.body);
    t.match(mail.text, /^It\u2019s 5 \u20ac \u2013 café\s+-- \s+Confidential — Corp AG/, charset);
  }
});

t.test('strip attachments: matching ones replaced by a note, the rest byte-identical', async (t) => {
  const zip = makeZip({ 'report.pdf.exe': 'MZ', 'readme.txt': 'hi' });
  const raw = await buildMessage({ text: 'see attached', attachments: [{ filename: 'tool.exe', content: 'MZ\x90\x00' }, { filename: 'report.pdf', content: '%PDF-1.4 x', contentType: 'application/pdf' }, { filename: 'bundle.zip', content: zip }] });
  const r = await transformBody(raw, 'multipart/mixed', [{ op: 'strip-attachments', names: ['\\.exe$'], types: [], note: 'removed {{filename}}', rule: 's' }]);
  t.same(r.applied, ['stripped tool.exe (application/octet-stream) by s']);
  const mail = await PostalMime.parse(r.body);
  t.same(mail.attachments.map((a) => a.filename), ['report.pdf', 'bundle.zip']);
  t.match(mail.text, /see attached[\s\S]*removed tool\.exe/);
  const pdfPart = /Content-Type: application\/pdf[\s\S]*?\r\n\r\n[\s\S]*?\r\n--/.exec(raw.toString())![0];
  t.ok(r.body.toString().includes(pdfPart), 'the PDF part is unchanged byte for byte');
  const c = await parseContent(r.body);
  t.same(c.attachments.map((a) => `${a.filename}${a.inZip ? ` in ${a.inZip}` : ''}`), ['report.pdf', 'bundle.zip', 'report.pdf.exe in bundle.zip', 'readme.txt in bundle.zip']);
});

t.test('signed mail (multipart/signed, S/MIME) is left intact', async (t) => {
  const raw = Buffer.from('From: a@corp.test\r\nContent-Type: multipart/signed; protocol="application/pgp-signature"; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\nSIG\r\n--b--\r\n');
  for (const ct of ['multipart/signed; protocol="application/pgp-signature"; boundary=b', 'application/pkcs7-mime; smime-type=enveloped-data', 'multipart/encrypted; boundary=b']) {
    const r = await transformBody(raw, ct, [disclaimer, { op: 'strip-attachments', names: [], types: [], note: 'x', rule: 's' }]);
    t.equal(r.body, raw, ct);
    t.equal(r.skipped, 'signed or encrypted message left intact');
  }
});
