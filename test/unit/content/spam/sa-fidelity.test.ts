/*
 * Unit tests of the fixes found by the fidelity diff against SpamAssassin 4.0.1 on TRAIN
 * (bench/sa-fidelity-run.py, bench/sa-fidelity-diff.py; docs/benchmarks.md): each fixed or ported
 * rule behaviour with a message that must hit and one that must not.
 */
import t from 'tap';
import { convertSaRules, splitPerlRegex } from '../../../../gateway/src/content/spam/sa-convert.js';
import { SA_EVALS } from '../../../../gateway/src/content/spam/sa-eval.js';
import { compileSaRules, loadSaRules, metaJs, saHits } from '../../../../gateway/src/content/spam/sa-rules.js';
import { parseMessage } from '../../../../gateway/src/content/spam/parse.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'));
const evals = new Set(Object.keys(SA_EVALS));
const names = async (cf: string, msg: string) => saHits(compileSaRules(convertSaRules([{ name: 't.cf', text: cf }], 2, { evals }).rules), await parseMessage(crlf(msg))).map((h) => h.name).sort();

t.test('tflags multiple: a rule counts its matches (up to maxhits) and metas compare the count (__BODY_TEXT_LINE < 3)', async (t) => {
  const cf = `
body     __BODY_TEXT_LINE  /^\\s*\\S/
tflags   __BODY_TEXT_LINE  multiple maxhits=3
uri      __HAS_ANY_URI     /./
meta     EMPTY_BODY        __BODY_TEXT_LINE < 2
meta     BODY_URI_ONLY     __BODY_TEXT_LINE < 3 && __HAS_ANY_URI
body     __WORD_MONEY      /\\bmoney\\b/i
tflags   __WORD_MONEY      multiple
meta     MONEY_TWICE       __WORD_MONEY > 1
score    EMPTY_BODY 1
score    BODY_URI_ONLY 1
score    MONEY_TWICE 1
`;
  const head = 'From: a@b.test\nTo: c@d.test\nSubject: hello\n\n';
  // The Subject is the body's first line (as in SpamAssassin): Subject + one paragraph = 2.
  t.same(await names(cf, `${head}http://example.test/x\n`), ['SA_BODY_URI_ONLY'], 'one line and a link: URI only, not empty');
  t.same(await names(cf, `${head}\n`), ['SA_EMPTY_BODY'], 'only the Subject: empty');
  t.same(await names(cf, `${head}Dear friend,\n\nsee http://example.test/x\n\nmore text here\n\nbye\n`), [], 'several paragraphs: neither');
  t.same(await names(cf, `${head}money money\n\nno more money talk\n`), ['SA_MONEY_TWICE'], 'three matches over two paragraphs: > 1');
  t.same(await names(cf, `${head}money, once\n\nand that is all we say\n`), [], 'one match: not > 1');

  const set = loadSaRules();
  const rule = set.byName.get('__BODY_TEXT_LINE')!.rule;
  t.equal(rule.max, 3, 'the shipped data keeps maxhits');
  t.equal(metaJs(['A', '>', '1'], (x) => x, () => 1, (x) => x === 'A'), 'A > 1', 'a counting rule is compared, not folded');
  t.equal(metaJs(['A', '>', '1'], (x) => x, () => 1), '0', 'a 0/1 rule > 1 is folded to false');
});

t.test('if / ifplugin / else / endif: only the branch SpamAssassin reads is kept (a later fallback no longer replaces the rule)', async (t) => {
  const cf = `
if (version >= 4.000000)
  header SUBJ_8BIT   Subject:raw =~ /[\\x80-\\xff]{2}/
endif
if (version < 4.000000)
  meta SUBJ_8BIT 0
endif
ifplugin Mail::SpamAssassin::Plugin::NotLoaded
  body NEVER_READ /money/
else
  body ELSE_READ /money/
endif
if !plugin(Mail::SpamAssassin::Plugin::BodyEval)
  meta FALLBACK 0
endif
if can(Mail::SpamAssassin::Conf::feature_bug6558_free) && !(can(Mail::SpamAssassin::Conf::compat_welcomelist_blocklist))
  body CAN_READ /money/
endif
`;
  const { rules } = convertSaRules([{ name: 't.cf', text: cf }], 2);
  t.same(rules.map((r) => `${r.name}:${r.type}`).sort(), ['CAN_READ:body', 'ELSE_READ:body', 'SUBJ_8BIT:header']);
  const spamSubject = 'From: a@b.test\nTo: c@d.test\nSubject: Caf\xe9\xe9 money\n\nmoney\n';
  const set = compileSaRules(rules);
  t.same(saHits(set, await parseMessage(Buffer.from(spamSubject.replace(/\n/g, '\r\n'), 'latin1'))).map((h) => h.name).sort(), ['SA_CAN_READ', 'SA_ELSE_READ', 'SA_SUBJ_8BIT']);
  t.same(saHits(set, await parseMessage(crlf('From: a@b.test\nSubject: plain\n\nnothing\n'))).map((h) => h.name), [], 'a plain message: none');
  const shipped = loadSaRules();
  t.equal(shipped.byName.get('__SUBJ_ILLEGAL_CHARS')?.rule.type, 'eval', 'the shipped data has the 4.x definition, not the `meta 0` fallback');
  t.equal(shipped.byName.get('__TVD_SPACE_RATIO')?.rule.fn, 'tvd_vertical_words');
});

t.test('tvd_vertical_words (TVD_SPACE_RATIO): text set in a vertical column', async (t) => {
  const cf = `
body __TVD_SPACE_RATIO eval:tvd_vertical_words('0','10')
meta TVD_SPACE_RATIO __TVD_SPACE_RATIO
score TVD_SPACE_RATIO 1
`;
  const head = 'From: a@b.test\nTo: c@d.test\nSubject: hi\n\n';
  t.same(await names(cf, `${head}B U Y N O W\n`), [], 'spaces as many as letters: 100 %, not under 10');
  t.same(await names(cf, `${head}Wonderfulness\n\nExtraordinary\n`), ['SA_TVD_SPACE_RATIO'], 'lines without spaces (the CRLF read as one): 7 %, under 10');
  t.same(await names(cf, `${head}this is an ordinary sentence with spaces\n`), [], 'ordinary prose: over 10 %');
});

t.test('ALL-EXTERNAL: the headers below the trust boundary, counted in Received lines as SpamAssassin (a fetchmail hand-over stays above it)', async (t) => {
  const cf = `
header __RELAYED_EXT  ALL-EXTERNAL =~ /(?:^|\\n)[Rr]eceived:\\s.+\\n[Rr]eceived:\\s/s
meta   RELAYED_EXT    __RELAYED_EXT
header ALL_TRUSTED_HAS_LOCAL ALL-TRUSTED =~ /jalapeno/
score  RELAYED_EXT 1
score  ALL_TRUSTED_HAS_LOCAL 1
`;
  const local = 'Received: from localhost (jalapeno [127.0.0.1])\n\tby mx.example.test (Postfix) with ESMTP id 3BC5B16F16; Fri, 20 Sep 2002 17:36:06 +0100\n'
    + 'Received: from jalapeno [127.0.0.1]\n\tby localhost with IMAP (fetchmail-5.9.0); Fri, 20 Sep 2002 17:36:06 +0100\n';
  const hop = (n: number) => `Received: from sender${n}.example.net ([198.51.100.${n}]) by relay${n}.example.org (8.11.6) with ESMTP id g8KG0w${n}; Fri, 20 Sep 2002 17:01:00 +0100\n`;
  const rest = 'From: a@example.net\nTo: b@example.test\nSubject: hi\n\nbody\n';
  t.same(await names(cf, `${local}${hop(1)}${rest}`), ['SA_ALL_TRUSTED_HAS_LOCAL'], 'one external hop below the local ones: not relayed');
  t.same(await names(cf, `${local}${hop(1)}${hop(2)}${rest}`), ['SA_ALL_TRUSTED_HAS_LOCAL', 'SA_RELAYED_EXT'], 'two external hops: relayed');
  t.same(await names(cf, `${hop(1)}${rest}`), [], 'no trusted hop: ALL-TRUSTED empty, one external hop');
});

t.test('m{...} regexes: braces nest, so a quantifier {0,20} does not end the regex (IP_LINK_PLUS was cut there)', async (t) => {
  t.same(splitPerlRegex('m{^https?://\\d+\\.\\d+\\.\\d+\\.\\d+.{0,20}(?:cgi|click|ads|id=)}i'), ['^https?://\\d+\\.\\d+\\.\\d+\\.\\d+.{0,20}(?:cgi|click|ads|id=)', 'i', '']);
  t.same(splitPerlRegex('m{a\\}b}'), ['a}b', '', ''], 'an escaped closing brace is the character');
  const cf = 'uri IP_LINK_PLUS m{^https?://\\d+\\.\\d+\\.\\d+\\.\\d+.{0,20}(?:cgi|click|ads|id=)}i\nscore IP_LINK_PLUS 1\n';
  const head = 'From: a@b.test\nTo: c@d.test\nSubject: hi\nContent-Type: text/html\n\n';
  t.same(await names(cf, `${head}<a href="http://198.51.100.7/CGI-bin/x">go</a>\n`), ['SA_IP_LINK_PLUS'], 'an IP link to a CGI (any case)');
  t.same(await names(cf, `${head}<a href="http://198.51.100.7/about/us/and/more/pages/index.html">go</a>\n`), [], 'an IP link without the markers');
  const shipped = loadSaRules().byName.get('IP_LINK_PLUS')!.rule;
  t.equal(shipped.flags, 'i');
});
