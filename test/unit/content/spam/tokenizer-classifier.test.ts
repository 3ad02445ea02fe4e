/*
 * Unit tests of content/spam: the parser's bounds, the chi-square classifier (Robinson f(w),
 * Fisher combining), GTUBE and the heuristics, and the score file naming exactly the symbols the
 * spam check emits. The tokenizer: tokenizer.test.ts.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultScoresDir, loadContentScores } from '../../../../gateway/src/content/index.js';
import { chi2Q, classify as classifyWith, DEFAULT_PARAMS, tokenProbability } from '../../../../gateway/src/content/spam/classifier.js';
import { SPAM_SYMBOLS, BAYES_BANDS } from '../../../../gateway/src/content/spam/engine.js';
import { GTUBE, heuristics } from '../../../../gateway/src/content/spam/heuristics.js';
import { learnKey, parseMessage } from '../../../../gateway/src/content/spam/parse.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'));
const MIXED = crlf(`From: Promo <promo@offers.test>
To: user@corp.test
Subject: CHEAP PILLS TODAY ONLY
Message-ID: <abc123@offers.test>
Received: from mail.offers.test (mail.offers.test [203.0.113.9]) by mx.corp.test with ESMTP id 1
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=B

--B
Content-Type: text/html; charset=utf-8

<html><body><font color="red">Buy now</font> at <a href="http://198.51.100.7/shop">our shop</a> and http://www.deals.example.com/cheap-pills?x=1</body></html>
--B
Content-Type: application/octet-stream; name="invoice.pdf.exe"
Content-Disposition: attachment; filename="invoice.pdf.exe"
Content-Transfer-Encoding: base64

TVqQAAMAAAAEAAAA
--B--
`);

t.test('parse: bounded input, learn key by Message-ID else hash', async (t) => {
  const big = Buffer.concat([crlf('Subject: big\nMessage-ID: <Big@x>\n\n'), Buffer.alloc(200_000, 'word ')]);
  const p = await parseMessage(big, big.length, 100_000);
  t.equal(p.truncated, true);
  t.equal(p.raw.length, 100_000);
  t.equal(learnKey(p), 'mid:<big@x>');
  const noId = await parseMessage(crlf('Subject: a\n\nbody\n'));
  t.match(learnKey(noId), /^sha256:[0-9a-f]{64}$/);
  t.not(learnKey(noId), learnKey(await parseMessage(crlf('Subject: a\n\nother body\n'))));
  // A header block mailparser refuses (over 1 MiB) is still scored, on its headers.
  let head = 'Subject: huge\r\nMessage-ID: <h@x>\r\n';
  for (let i = 0; i < 1200; i++) head += `X-Pad-${i}: ${'x'.repeat(990)}\r\n`;
  const huge = await parseMessage(Buffer.from(`${head}\r\nbody\r\n`), undefined, 2 << 20);
  t.match(huge, { subject: 'huge', messageId: '<h@x>', truncated: true, text: '' });
});

t.test('classifier: chi2Q, token probabilities and combining', async (t) => {
  // SpamBayes' combining (no class shares; tokenizer.test.ts covers SpamAssassin's).
  const classify = (toks: string[], lookup: Parameters<typeof classifyWith>[1], ns: number, nh: number) => classifyWith(toks, lookup, ns, nh, { ...DEFAULT_PARAMS, saCombine: false });
  t.equal(chi2Q(0, 4), 1);
  t.ok(Math.abs(chi2Q(2, 2) - Math.exp(-1)) < 1e-12, 'chi2Q(2, 2) = e^-1');
  t.ok(chi2Q(100, 10) < 1e-10);
  t.equal(tokenProbability({ spam: 0, ham: 0 }, 10, 10), 0.5, 'unseen: the prior');
  t.ok(tokenProbability({ spam: 10, ham: 0 }, 10, 10) > 0.95);
  t.ok(tokenProbability({ spam: 1, ham: 0 }, 10, 10) < tokenProbability({ spam: 10, ham: 0 }, 10, 10), 'rare evidence is pulled to 0.5');
  // Class sizes are normalised: 5 of 10 spam vs 50 of 100 ham is no evidence.
  t.equal(tokenProbability({ spam: 5, ham: 50 }, 10, 100), (DEFAULT_PARAMS.s * 0.5 + 55 * 0.5) / (DEFAULT_PARAMS.s + 55));
  const counts = new Map([['cheap', { spam: 40, ham: 1 }], ['pills', { spam: 30, ham: 0 }], ['meeting', { spam: 1, ham: 60 }], ['agenda', { spam: 0, ham: 45 }], ['the', { spam: 50, ham: 50 }]]);
  const lookup = (tok: string) => counts.get(tok);
  const spam = classify(['cheap', 'pills', 'the', 'unknown'], lookup, 50, 60);
  t.ok(spam.probability > 0.95, `spam ${spam.probability}`);
  t.same(spam.clues.map(([tok]) => tok).sort(), ['cheap', 'pills'], 'neutral and unknown tokens are not clues');
  t.ok(classify(['meeting', 'agenda', 'the'], lookup, 50, 60).probability < 0.05);
  const mixed = classify(['cheap', 'pills', 'meeting', 'agenda'], lookup, 50, 60).probability;
  t.ok(mixed > 0.2 && mixed < 0.8, `both kinds of evidence: unsure (${mixed})`);
  t.equal(classify(['nothing'], lookup, 50, 60).probability, 0.5, 'no clues: 0.5');
  t.equal(BAYES_BANDS.at(-1)![1], 0, 'every probability falls in a band');
});

t.test('GTUBE and heuristics', async (t) => {
  const names = (h: Array<{ name: string }>) => h.map((x) => x.name);
  t.same(names(heuristics(await parseMessage(crlf(`From: a@b\nDate: x\nMessage-ID: <1@b>\nSubject: hi\n\n${GTUBE}\n`)))), ['SPAM_GTUBE']);
  const hits = names(heuristics(await parseMessage(MIXED)));
  t.same(hits.sort(), ['ATTACH_DOUBLE_EXTENSION', 'ATTACH_EXECUTABLE', 'MIME_HTML_ONLY', 'MISSING_DATE', 'SUBJECT_ALL_CAPS', 'URL_NUMERIC_IP']);
  t.same(names(heuristics(await parseMessage(crlf('Subject: lunch\n\nsee you\n')))).sort(), ['MISSING_DATE', 'MISSING_FROM', 'MISSING_MESSAGE_ID']);
});

t.test('rules/scores/spam.yaml scores exactly the emitted spam symbols', async (t) => {
  const text = readFileSync(join(defaultScoresDir(), 'spam.yaml'), 'utf8');
  const inFile = [...text.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]).sort();
  t.same(inFile, [...new Set(SPAM_SYMBOLS)].sort());
  const s = loadContentScores().spam;
  t.ok(s.score('SPAM_GTUBE') >= 15, 'GTUBE alone reaches the default reject threshold');
  t.ok(s.score('BAYES_SPAM_95') < 5, 'a Bayes of 95-99 % alone does not tag (tag 5): one more symbol must agree');
  t.ok(s.score('BAYES_SPAM_99') <= 5, 'nor is a confident Bayes worth more than the tag threshold');
  t.ok(s.score('BAYES_HAM_05') < 0);
});
