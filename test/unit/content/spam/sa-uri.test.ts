/*
 * Unit tests of content/spam/sa-uri.ts: the canonical variants SpamAssassin's uri rules see
 * (Util::uri_list_canonicalize), and that the uri rules reach them through the evaluator.
 */
import t from 'tap';
import { canonicalUris, messageLinks, messageUris, textUris } from '../../../../gateway/src/content/spam/sa-uri.js';
import { compileSaRules, saHits } from '../../../../gateway/src/content/spam/sa-rules.js';
import { parseMessage } from '../../../../gateway/src/content/spam/parse.js';

t.test('canonicalUris: hidden hosts become visible, the original stays', async (t) => {
  const has = (uris: string[], u: string) => t.ok(uris.includes(u), `${u} in ${JSON.stringify(uris)}`);
  has(canonicalUris(['http://%31%30%2E%31%2E%32%2E%33/x']), 'http://10.1.2.3/x');
  has(canonicalUris(['http://%31%30%2E%31%2E%32%2E%33/x']), 'http://%31%30%2E%31%2E%32%2E%33/x');
  has(canonicalUris(['http://0x50.0x47.011.88/']), 'http://80.71.9.88/');
  has(canonicalUris(['http://1347963992/']), 'http://80.88.76.88/');
  has(canonicalUris(['http://rd.example.com/*http://80.71.71.88/farm/?aid=1']), 'http://80.71.71.88/farm/?aid=1');
  has(canonicalUris(['www.example.org/a']), 'http://www.example.org/a');
  has(canonicalUris(['http://example.org:80/a']), 'http://example.org/a');
  has(canonicalUris(['http://a@b@example.org/']), 'http://example.org/');
  has(canonicalUris(['http://bargains/']), 'http://www.bargains.com/');
  has(canonicalUris(['http://example.org/&#97;b']), 'http://example.org/ab');
  has(canonicalUris(['mailto:a@example.org?subject=hi']), 'mailto:a@example.org');
  const redirect = canonicalUris(['http://www.google.com/url?sa=t&q=http://spam.example/x&v=1'], [/^https?:\/*(?:\w+\.)?google(?:\.\w{2,3}){1,2}\/url\?.*?(?<=[?&])q=(.*?)(?:$|[&#])/i]);
  has(redirect, 'http://spam.example/x');
  t.same(canonicalUris(['#top', '/relative', 'x']), ['#top', '/relative', 'x'], 'fragments, relative paths and one-character strings: as written, no variants');
  t.same(canonicalUris(['http://example.org/']), ['http://example.org/'], 'a canonical link is itself');
});

t.test('uri rules see the canonical variants', async (t) => {
  const set = compileSaRules([{ name: 'NORMAL_HTTP_TO_IP', type: 'uri', re: '^https?://(?!1(?:0|27)\\.)\\d+\\.\\d+\\.\\d+\\.\\d+\\b', flags: 'i', score: 0.8 }]);
  const msg = (href: string) => parseMessage(Buffer.from(`From: a@example.org\r\nTo: b@example.net\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n<a href="${href}">x</a>\r\n`));
  t.equal(saHits(set, await msg('http://%38%30%2E%37%31%2E%37%31%2E%38%38/')).length, 1, 'an IP written in %XX escapes');
  t.equal(saHits(set, await msg('http://example.org/')).length, 0);
});

t.test('textUris: links in text as SpamAssassin (PerMsgStatus _tbirdurire) finds them', async (t) => {
  t.same(textUris(['win tickets: www.neverfailgroup.com/f1theregister.html. Mail bob@example.com, see example.org/x or foo.notatld',
    'and http://a.b.c/d?e=f) ok. (ftp.example.net) cid:image001.png@01D4986E.E3459640 Vi@gra noone@localhost']),
  ['http://www.neverfailgroup.com/f1theregister.html', 'mailto:bob@example.com', 'http://example.org/x', 'http://a.b.c/d?e=f', 'ftp://ftp.example.net'],
  'scheme added, trailing punctuation and an unmatched ) dropped, names need a valid TLD, addresses a dot and a valid TLD, cid: ignored');
  t.same(textUris(['user@sub.example.co.uk']), ['mailto:user@sub.example.co.uk'], 'an address is not also read as a bare domain');
  t.same(textUris(['see example.com.evil or example.community.']), ['http://example.community'], 'the TLD is the last label');
});

t.test('messageLinks: the rendered text\'s links, then the HTML tags\' links as HTML.pm collects them', async (t) => {
  const html = '<html><head><base href="http://base.example/dir/index.html"></head><body background="http://10.0.0.1/bg.jpg">'
    + '<!-- <a href="http://comment.example/"> --><a href="rel/page.html">visit shop.example.net</a><img src="cid:x@y"><script src="/s.js"></script>'
    + '<form action="http://form.example/go"></form><p xmlns="http://www.w3.org/1999/xhtml">x</p></body></html>';
  const msg = await parseMessage(Buffer.from(`From: a@b.example\r\nSubject: offer at deals.example.org\r\nContent-Type: text/html\r\n\r\n${html}\r\n`));
  t.same(messageLinks(msg), ['http://deals.example.org', 'http://shop.example.net', 'http://base.example/dir/index.html', 'http://10.0.0.1/bg.jpg',
    'http://base.example/dir/rel/page.html', 'cid:x@y', 'http://base.example/s.js', 'http://form.example/go']);
});

t.test('messageUris: the canonical list with redirect targets, worked out once for the rules and the Bayes', async (t) => {
  const msg = await parseMessage(Buffer.from('From: a@b.test\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\nhttp://chkpt.zdnet.com/chkpt/abc/hidden-target.example/offer\r\n'));
  const redirectors = [/^http:\/\/chkpt\.zdnet\.com\/chkpt\/\w+\/(.*)$/i];
  const uris = messageUris(msg, redirectors);
  t.ok(uris.includes('http://hidden-target.example/offer'), 'the redirect target is a link of its own');
  t.equal(messageUris(msg, redirectors), uris, 'the same list the second time');
  t.notOk(messageUris(msg, []).includes('http://hidden-target.example/offer'), 'another redirector list: worked out again');
});

t.test('canonicalUris keeps every URI as written, fragments and relative paths too', async (t) => {
  t.same(canonicalUris(['#a99481', '?x=1', '/img.gif', ' http://a.example/ ']), ['#a99481', '?x=1', '/img.gif', 'http://a.example/'], 'uri_list_canonicalize returns its input');
  t.notOk(canonicalUris(['http://www.museum/']).includes('http://www.www.museum.com/') || canonicalUris(['http://www.museum/']).includes('http://www.museum.com/'), 'no www.NAME.com for a valid domain (bug 7891)');
  t.ok(canonicalUris(['http://example/']).includes('http://www.example.com/'), 'www.NAME.com for a bare name');
});
