/*
 * Unit tests of content/spam/tokenizer.ts (SpamAssassin's Bayes tokens: headers with their
 * prefixes and pre-chewing, case-kept body words and their decompositions, skip tokens, stop
 * words, URL domains, the two earliest Received lines) and of the classifier's SpamAssassin-style
 * combining (class shares as the starting products).
 */
import t from 'tap';
import { classify, DEFAULT_PARAMS } from '../../../../gateway/src/content/spam/classifier.js';
import { parseMessage } from '../../../../gateway/src/content/spam/parse.js';
import { tokenize, tokenizeLine } from '../../../../gateway/src/content/spam/tokenizer.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'));
const MSG = crlf(`Return-Path: <bounce-77@mailer.offers.test>
Received: from mx.corp.test (localhost [127.0.0.1]) by mx.corp.test with ESMTP id AAA111; Thu, 22 Aug 2002 12:36:23 +0100
Received: from relay.isp.test (relay.isp.test [198.51.100.20]) by mx.corp.test (Postfix) with ESMTP id BBB222; Thu, 22 Aug 2002 12:36:20 +0100
Received: from pc-77 (dyn-203-0-113-9.isp.test [203.0.113.9]) by relay.isp.test with SMTP; Thu, 22 Aug 2002 12:30:00 +0100
From: "Best Deals" <deals@offers.test>
To: user@corp.test
Subject: Amazing FREE offer!
Date: Thu, 22 Aug 2002 12:29:00 +0100
Message-ID: <20020822122900.ABCDEF0123@offers.test>
X-Mailer: SuperMailer 5.1
X-Tracking-Id: zz99kq
Delivered-To: user@corp.test
Content-Type: text/plain; charset="us-ascii"

Click here. Buy FREE!! pills now at www.deals.example.com or write to sales@offers.test
the supercalifragilisticexpialidocious deal...ends soon
`);

t.test('tokenizer: headers, prefixes and pre-chewing as SpamAssassin', async (t) => {
  const tokens = new Set(tokenize(await parseMessage(MSG)));
  for (const tok of [
    'H*F:N*Best', 'H*F:U*deals', 'H*F:D*offers.test', 'H*F:D*test', 'H*Ad:U*user', 'H*p:U*bounce-77',
    // header names as written (SpamAssassin's are case-sensitive): X-Tracking-Id, Message-ID → *M
    'H*UA:SuperMailer', 'H*x:SuperMailer', 'HX-Tracking-Id:zz99kq', 'HTo:U*user', 'H*M:offers', 'H*MI:offers',
    // the two earliest Received lines: IPs as /24 plus the whole address; dates and ids dropped
    'H*r:203.0.113', 'H*r:ip*203.0.113.9', 'H*r:relay.isp.test', 'H*r:198.51.100',
    'H*RU:198.51.100.20', 'H*RT:127.0.0.1',
  ]) t.ok(tokens.has(tok), tok);
  for (const tok of ['Hdelivered-to:user', 'Hdate:Thu', 'Hsubject:Amazing', 'H*r:AAA111', 'H*r:localhost', 'H*r:2002', 'H*r:12:30:00'])
    t.notOk(tokens.has(tok), `not ${tok}`);
  t.ok(tokens.has('H*ct:us-ascii') && !tokens.has('H*ct:text'), 'Content-Type without the grey words text and charset');
  t.notOk(tokens.has('Hx-tracking-id:zz99kq'), 'no lower-cased header name');
});

t.test('tokenizer: as SpamAssassin 4 (tokens compared with its Bayes on TRAIN messages)', async (t) => {
  const tokens = new Set(tokenize(await parseMessage(crlf(`From: a@offers.test
Message-Id: <1234.abcd@offers.test>
Precedence: bulk
X-MSMail-Priority: Normal
Subject: hi

see http://www.qves.com/trim/?ilug@linux.ie%7C17%7C114258 or mail listmaster@linux.ie
`))));
  t.ok(tokens.has('H*m:abcd'), 'Message-Id (not -ID) is *m: the prefix map is case-sensitive');
  t.notOk(tokens.has('HPrecedence:bulk') || tokens.has('HX-MSMail-Priority:Normal'), 'bayes_ignore_header of the default configuration');
  t.ok(tokens.has('114258'), 'links tokenized as SpamAssassin\'s URI list: with their canonical variants (%7C decoded)');
  t.ok(tokens.has('listmaster@linux.ie'), 'an address in the text is a mailto: link, whose long tokens are kept whole (region 2)');
});

t.test('tokenizer: body words keep case and add their decompositions', async (t) => {
  const tokens = new Set(tokenize(await parseMessage(MSG)));
  // Subject is the first body line; "Amazing" at the start is Title Case → lower-cased.
  for (const tok of ['amazing', 'FREE', 'free', 'offer!', 'offer', 'FREE!!', 'free!!', 'pills', 'sk:superca', 'ends', 'deal',
    'UD:www.deals.example.com', 'UD:deals.example.com', 'UD:example.com', 'U*sales', 'D*offers.test', 'click'])
    t.ok(tokens.has(tok), tok);
  for (const tok of ['the', 'now', 'Amazing', 'here.']) t.notOk(tokens.has(tok), `not ${tok}`);
  t.equal(new Set(tokenize(await parseMessage(MSG))).size, tokenize(await parseMessage(MSG)).length, 'each token once');
});

t.test('tokenizer: tokenizeLine rules', async (t) => {
  const line = (s: string, region: 0 | 1 | 2 = 1, prefix = '') => {
    const out: string[] = [];
    tokenizeLine(s, prefix, region, (x) => out.push(x));
    return out;
  };
  t.same(line('ab abc'), ['abc'], 'under 3 characters dropped');
  t.same(line('a-b-c-d-e-f-g-h-i-j-k', 0, 'Hx:'), ['Hx:sk:a-b-c-d'], 'headers: long tokens as skips, no decomposition');
  t.ok(line('http://example.com/x', 2).includes('UD:example.com') && !line('http://example.com/x', 2).includes('http'), 'URL: domains, stop word http dropped');
  t.same(line('日本語のテキストです日本語のテキストです').filter((x) => x.startsWith('u8:')).length, 20, 'long CJK runs: one token per character');
  t.same(line('"quoted",'), ['quoted'], 'punctuation trimmed at both ends');
  // Lengths are UTF-8 bytes, as SpamAssassin's: five CJK characters are 15 bytes (one token),
  // six are 18 (one u8: token each); one CJK character is 3 bytes, enough for a token.
  t.same(line('までお送り'), ['', 'までお送り'], 'five CJK characters: one token (and the empty decomposition tokenize drops)');
  t.same(line('までお送り下'), ['u8:ま', 'u8:で', 'u8:お', 'u8:送', 'u8:り', 'u8:下'], 'six: one u8: token per character');
  t.same(line('猫 ab'), ['', '猫'], 'a single CJK character is 3 bytes: kept; two ASCII letters are not');
  t.same(line('Größenverhältnis', 0), ['sk:Größenv'], '16 characters but 18 bytes: long, skipped at 7 characters');
  t.same(line('ÖL'), ['L', 'Öl', 'l', 'ÖL'], 'a two-byte letter counts twice; its decomposition keeps ASCII word characters only');
  t.same(line('FOO\u3000BAR', 0), ['FOO\u3000BAR'], 'only ASCII white space splits (a header line)');
});

t.test('classifier: SpamAssassin combining starts from the class shares', async (t) => {
  t.equal(DEFAULT_PARAMS.saCombine, true);
  const counts = new Map([['a', { spam: 3, ham: 1 }], ['b', { spam: 1, ham: 3 }]]);
  const lookup = (tok: string) => counts.get(tok);
  const plain = classify(['a', 'b'], lookup, 100, 100, { ...DEFAULT_PARAMS, saCombine: false }).probability;
  const shares = classify(['a', 'b'], lookup, 100, 100, DEFAULT_PARAMS).probability;
  t.ok(Math.abs(plain - 0.5) < 1e-9 && Math.abs(shares - 0.5) < 1e-9, 'equal classes, balanced evidence: 0.5 either way');
  // Fewer spam than ham learned: SpamAssassin's product Π(1 − f) starts at nspam/n, so the same
  // balanced evidence leans to spam (its CombineChi does the same).
  const lean = classify(['a', 'b'], lookup, 20, 200, DEFAULT_PARAMS).probability;
  const noLean = classify(['a', 'b'], lookup, 20, 200, { ...DEFAULT_PARAMS, saCombine: false }).probability;
  t.ok(lean > noLean, `${lean} > ${noLean}`);
});

t.test('the body is read as SpamAssassin renders it: both alternatives, HTML as HTML.pm', async (t) => {
  const alt = crlf('From: a@b.test\nTo: c@d.test\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b"\n\n--b\nContent-Type: text/plain\n\nplainword here\n--b\nContent-Type: text/html\n\n<p>V<b></b>iagra <i>htmlword</i></p>\n--b--\n');
  const tokens = tokenize(await parseMessage(alt));
  t.ok(tokens.includes('plainword') && tokens.includes('htmlword'), 'words of the text and of the HTML alternative');
  t.ok(tokens.includes('viagra') && !tokens.includes('iagra'), 'a word split by empty tags is one word (lower-cased: it starts the line)');
});

t.test('invisible HTML text is no visible token: it counts as I*: tokens', async (t) => {
  const html = crlf('From: a@b.test\nTo: c@d.test\nSubject: s\nMIME-Version: 1.0\nContent-Type: text/html\n\n'
    + '<p>shownword</p><font color="#ffffff">whiteword </font><font size="1">tinyword </font><span style="display: none">noneword </span>'
    + '<div style="visibility: hidden">hiddenword </div><small><small>smallword </small></small><span style="Display: none">caseword</span></p>\n');
  // Invisible pieces are joined as HTML.pm joins them (no space between elements): each ends with one here.
  const tokens = new Set(tokenize(await parseMessage(html)));
  t.ok(tokens.has('shownword') && tokens.has('caseword'), 'visible text (a property name is case-sensitive, as HTML.pm)');
  t.notOk(tokens.has(''), 'no empty token (SpamAssassin skips null tokens)');
  for (const w of ['whiteword', 'tinyword', 'noneword', 'hiddenword', 'smallword']) {
    t.notOk(tokens.has(w), `${w} is not a visible token`);
    t.ok(tokens.has(`I*:${w}`), `${w} is an I*: token`);
  }
});
