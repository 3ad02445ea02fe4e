/*
 * Unit tests of the SpamAssassin rule converter (content/spam/sa-convert.ts) and evaluator
 * (sa-rules.ts): Perl regex translation, header/body/rawbody/uri/full rules with modifiers and
 * if-unset, ReplaceTags templates, meta expressions, what is skipped and why, default scores,
 * and the generated data file (every rule compiles, every reportable rule has a finite score).
 */
import t from 'tap';
import { applyReplaceTags, convertSaRules, perlToJs, splitPerlRegex } from '../../../../gateway/src/content/spam/sa-convert.js';
import { compileSaRules, decodeWords, defaultSaRulesFile, formatSaRuleFile, loadSaRules, parseSaRuleText, requiredLiteral, saHits, type SaRuleFile } from '../../../../gateway/src/content/spam/sa-rules.js';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseMessage } from '../../../../gateway/src/content/spam/parse.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'));

const CF = `
# a comment
header   __FROM_OFFERS   From:addr =~ /\\@offers\\.test$/i
header   SUBJ_MONEY      Subject =~ /\\bmoney\\b/i
describe SUBJ_MONEY      Subject talks money
header   NO_UA           User-Agent !~ /mutt/i [if-unset: none]
header   __HAS_LIST_ID   exists:List-Id
body     FREE_OFFER      /free (?:trial|offer)s?/i
body     LONG_X          m{ click \\s+ here }xi
rawbody  FONT_TAG        /<font\\s+color=["']?red/i
uri      URI_IP          m!^https?://\\d+\\.\\d+\\.\\d+\\.\\d+!
full     FULL_GTUBE      /GTUBE-STANDARD/
header   NETTY           eval:check_rbl('x', 'zen.example.')
body     USES_EVAL       eval:check_stuff()
header   RELAYS          X-Spam-Relays-External =~ /helo=x/
body     POSSESSIVE      /a++b/
body     MODIFIER_GROUP  /(?i:abc)def/
meta     OFFER_META      (__FROM_OFFERS && FREE_OFFER) || (SUBJ_MONEY + FONT_TAG > 1)
meta     NOT_LIST        !__HAS_LIST_ID && SUBJ_MONEY
meta     NEEDS_EVAL      USES_EVAL && SUBJ_MONEY
tflags   NICE_ONE        nice
header   NICE_ONE        X-Mailer =~ /Mutt/
replace_tag   M   [mM]
redirector_pattern m'^https?://redir\\.test/go\\?to=(.*)$'i
replace_rules TAGGED
body     TAGGED          /<M>oney back/
score    SUBJ_MONEY      0.5 0.6 0.7 0.8
score    FREE_OFFER      2.5
`;

t.test('perlToJs: /x, anchors, POSIX classes, possessive and atomic groups; refuses what does not translate', async (t) => {
  t.same(perlToJs(' a b # c\n d ', 'x'), { re: 'abd', flags: '' });
  t.same(perlToJs('(?i)abc', ''), { re: 'abc', flags: 'i' });
  t.same(perlToJs('\\Afoo\\z', ''), { re: '(?<![\\s\\S])foo(?![\\s\\S])', flags: '' });
  t.same(perlToJs('[[:alpha:][:digit:]]+', 'i'), { re: '[a-zA-Z0-9]+', flags: 'i' });
  t.same(perlToJs('(?>a+)b++', 's'), { re: '(?:a+)b+', flags: 's' });
  t.same(perlToJs('x{,3}', ''), { re: 'x{0,3}', flags: '' });
  t.same(perlToJs('(?i:ab[c-e]\\d)x', ''), { re: '(?:[aA][bB][c-eC-E]\\d)x', flags: '' }, '(?i:…) becomes both-case classes');
  t.same(perlToJs('(?i:ab)x', 'i'), { re: '(?:ab)x', flags: 'i' }, 'under /i it is a plain group');
  t.ok(perlToJs('a(?-i:b)', 'i') instanceof Error, 'other inline modifier groups do not translate');
  t.ok(perlToJs('\\Qa.b\\E', '') instanceof Error, '\\Q...\\E');
  t.same(splitPerlRegex('m{a/b}i [if-unset: x]'), ['a/b', 'i', '[if-unset: x]']);
  t.same(splitPerlRegex('/a\\/b/'), ['a\\/b', '', '']);
  t.equal(splitPerlRegex('eval:foo()'), null);
});

t.test('applyReplaceTags: pre/post/inter are directives, applied around every tag as SpamAssassin does', async (t) => {
  const tags = new Map([['A', '[aA@]'], ['B', '[bB8]'], ['AB', '<A><B>'], ['post P2', '{1,2}'], ['inter W1', '\\W?'], ['pre X', '\\b']]);
  // 25_replace.cf's shape: the directives lead the rule, the tags follow it.
  t.equal(applyReplaceTags('/<inter W1><post P2>(?!ab)<A><B>/i', tags), '/(?!ab)[aA@]{1,2}\\W?[bB8]{1,2}/i');
  t.equal(applyReplaceTags('/<A>x<B>/', tags), '/[aA@]x[bB8]/', 'no inter between tags that are not adjacent');
  t.equal(applyReplaceTags('<inter W1><A><B>', tags), '\\W?[aA@]\\W?[bB8]', 'a rule that starts with a tag gets inter before it too (Perl split keeps the leading empty field)');
  t.equal(applyReplaceTags('/<pre X><A>(?:y|<B>)/', tags), '/\\b[aA@](?:y|\\b[bB8])/', 'pre before every tag, also inside a group');
  t.equal(applyReplaceTags('/<AB>c/', tags), '/[aA@][bB8]c/', 'a tag made of tags is expanded on the next pass');
  t.equal(applyReplaceTags('/<inter NOPE><A><B>/', tags), '/[aA@][bB8]/', 'an undefined directive is dropped, as SpamAssassin does');
  t.equal(applyReplaceTags('/<UNKNOWN>/', tags), '/<UNKNOWN>/', 'an unknown tag stays text');
  const regex = new RegExp(applyReplaceTags('<inter W1><post P2>(?!ab)<A><B>', tags), 'i');
  t.ok(regex.test('a.b8') && regex.test('@@-B') && !regex.test('ab'), 'the FUZZY_* shape: obfuscations match, the plain word does not');
});

t.test('convertSaRules: rule types, scores by set, defaults, skipped by reason', async (t) => {
  const { rules, skipped, redirectors } = convertSaRules([{ name: 'test.cf', text: CF }], 2);
  const by = new Map(rules.map((r) => [r.name, r]));
  t.same(redirectors, [{ re: '^https?://redir\\.test/go\\?to=(.*)$', flags: 'i' }], 'redirector_pattern carried as a JavaScript regex (its m\'…\' delimiters read)');
  t.equal(by.get('SUBJ_MONEY')?.score, 0.7, 'score set 2');
  t.equal(by.get('SUBJ_MONEY')?.describe, 'Subject talks money');
  t.equal(by.get('FREE_OFFER')?.score, 2.5, 'a single score applies to every set');
  t.equal(by.get('FONT_TAG')?.score, 1, 'no score line: 1');
  t.equal(by.get('__FROM_OFFERS')?.score, 0, '__ rules only feed metas');
  t.equal(by.get('NICE_ONE')?.score, -1, 'tflags nice: -1');
  t.same(by.get('__FROM_OFFERS'), { name: '__FROM_OFFERS', score: 0, type: 'header', header: 'From', mod: 'addr', op: '=~', re: '\\@offers\\.test$', flags: 'i' });
  t.equal(by.get('NO_UA')?.ifUnset, 'none');
  t.equal(by.get('__HAS_LIST_ID')?.op, 'exists');
  t.equal(by.get('LONG_X')?.re, 'click\\s+here');
  t.equal(by.get('TAGGED')?.re, '[mM]oney back', 'ReplaceTags template expanded');
  t.equal(by.get('POSSESSIVE')?.re, 'a+b');
  t.same(skipped['eval: (Perl code)']?.sort(), ['NETTY', 'USES_EVAL']);
  t.equal(by.get('RELAYS')?.header, 'X-Spam-Relays-External', 'relay pseudo headers are computed (sa-relays.ts)');
  t.equal(by.get('MODIFIER_GROUP')?.re, '(?:[aA][bB][cC])def');
  t.same(skipped['meta needs a skipped rule'], ['NEEDS_EVAL'], 'a meta over a skipped rule is skipped');
  const noNeg = convertSaRules([{ name: 'test.cf', text: CF }], 2, { negative: false });
  t.same(noNeg.skipped['negative score, kept for metas only (score 0)'], ['NICE_ONE'], 'negative: false keeps a nice rule for metas only…');
  t.same(noNeg.skipped['unused (scores 0, feeds no kept meta)'], ['NICE_ONE'], '…and drops it when no meta uses it');
  t.ok(rules.some((r) => r.name === '__HAS_LIST_ID'), 'a sub-rule a kept meta uses stays');
});

t.test('saHits: header modifiers and if-unset, body paragraphs with the Subject, rawbody, uri, full, metas', async (t) => {
  const set = compileSaRules(convertSaRules([{ name: 'test.cf', text: CF }], 2).rules);
  const spam = await parseMessage(crlf(`From: "Deals" <promo@OFFERS.test>
To: user@corp.test
Subject: =?utf-8?q?Make_money_fast?=
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><p>Get your FREE trial now.</p><p><font color="red">Click
   here</font> <a href="http://198.51.100.7/x">go</a> Money back!</p> GTUBE-STANDARD</body></html>
`));
  const names = saHits(set, spam).map((h) => h.name).sort();
  t.same(names, ['SA_FONT_TAG', 'SA_FREE_OFFER', 'SA_FULL_GTUBE', 'SA_LONG_X', 'SA_NOT_LIST', 'SA_NO_UA', 'SA_OFFER_META', 'SA_SUBJ_MONEY', 'SA_TAGGED', 'SA_URI_IP']);
  t.equal(saHits(set, spam).find((h) => h.name === 'SA_SUBJ_MONEY')?.detail, 'Subject talks money');

  const ham = await parseMessage(crlf(`From: alice@corp.test
To: bob@corp.test
Subject: lunch
User-Agent: Mutt/2.2
X-Mailer: Mutt
List-Id: <team.corp.test>

money is not the subject here, no free offer
`));
  const hamNames = saHits(set, ham).map((h) => h.name).sort();
  t.same(hamNames, ['SA_FREE_OFFER', 'SA_NICE_ONE'], 'User-Agent set and matching: NO_UA silent; body rule sees the body; the Subject rule does not');
  t.equal(saHits(set, ham).find((h) => h.name === 'SA_NICE_ONE')?.score, -1);
});

t.test('rule regexes are compiled at their first run, not at load; a regex its prefilter stops never is', async (t) => {
  const set = compileSaRules(convertSaRules([{ name: 'test.cf', text: CF }], 2).rules);
  const native = (name: string) => set.byName.get(name)!.native;
  t.ok(set.rules.every((c) => c.native === 0), 'nothing compiled when the rules load');
  const msg = await parseMessage(crlf('From: a@corp.test\nTo: b@corp.test\nSubject: lunch money\n\nno free trial today\n'));
  t.same(saHits(set, msg).map((h) => h.name).sort(), ['SA_FREE_OFFER', 'SA_NOT_LIST', 'SA_NO_UA', 'SA_SUBJ_MONEY']);
  t.not(native('FREE_OFFER'), 0, 'a rule whose literal is in the text ran: compiled');
  t.equal(native('NO_UA'), 0, 'a !~ header rule hits without running its regex: the if-unset value lacks its literal "mutt"');
  t.not(native('SUBJ_MONEY'), 0, '… while a header rule whose literal is there ran');
  t.equal(native('FULL_GTUBE'), 0, 'its literal GTUBE-STANDARD is absent: the regex never ran, never compiled');
  t.equal(native('URI_IP'), 0, 'no links: never ran');
  t.same(saHits(set, msg).map((h) => h.name).sort(), ['SA_FREE_OFFER', 'SA_NOT_LIST', 'SA_NO_UA', 'SA_SUBJ_MONEY'], 'the same answers once compiled');
});

t.test('requiredLiteral: the literal every match contains (the cheap prefilter), never one a match may lack', async (t) => {
  t.equal(requiredLiteral('to be removed from.{0,20}(?:mailings|offers)'), 'to be removed from');
  t.equal(requiredLiteral('\\breplica.{1,20}rolex'), 'replica');
  t.equal(requiredLiteral('ab?cde'), 'cde', 'an optional character ends the run');
  t.equal(requiredLiteral('foo\\.bar[xyz]+baz{0,2}qux'), 'foo.bar');
  t.equal(requiredLiteral('[]abc]defg'), 'defg', 'a ] first in a class is a member');
  t.equal(requiredLiteral('(abc)?defg'), 'defg', 'groups are skipped');
  t.equal(requiredLiteral('a|bcdef'), null, 'top-level alternation: nothing is required');
  t.equal(requiredLiteral('(?:^|\\s)x'), null);
  const set = compileSaRules(convertSaRules([{ name: 't.cf', text: 'body CASE_I /Free  Offer/i\nbody CASE_S /Free Offer/\n' }], 2).rules);
  const names = async (body: string) => saHits(set, await parseMessage(crlf(`Subject: x\n\n${body}\n`))).map((h) => h.name).sort();
  t.same(await names('a FREE OFFER'), [], 'whitespace in the regex is literal');
  t.same(await names('a FREE  OFFER'), [], 'body paragraphs have their whitespace collapsed (as SpamAssassin renders them)');
  t.same(await names('a Free Offer'), ['SA_CASE_S']);
});

t.test('decodeWords: RFC 2047 B and Q words', async (t) => {
  t.equal(decodeWords('=?utf-8?B?SGVsbG8gd29ybGQ=?='), 'Hello world');
  t.equal(decodeWords('=?iso-8859-1?Q?caf=E9_bar?= x'), 'caf\xc3\xa9 bar x', 'the text as UTF-8 bytes, as SpamAssassin\'s header values');
  t.equal(decodeWords('=?utf-8?q?a?= =?utf-8?q?b?='), 'ab', 'whitespace between encoded words is dropped');
});

t.test('rules/spamassassin/rules.yaml: every rule compiles, metas resolve, reportable rules have finite scores', async (t) => {
  const set = loadSaRules();
  t.ok(set.rules.length > 800, `${set.rules.length} rules`);
  for (const c of set.rules) if (!Number.isFinite(c.rule.score)) t.fail(`${c.rule.name}: score ${c.rule.score}`);
  t.ok(set.rules.some((c) => c.rule.type === 'meta') && set.rules.some((c) => c.rule.type === 'body'));
  const hits = saHits(set, await parseMessage(crlf('From: a@b.test\nTo: c@d.test\nSubject: hello\nDate: Thu, 1 Jan 2026 00:00:00 +0000\nMessage-ID: <1@b.test>\n\nhi\n')));
  t.ok(hits.reduce((s, h) => s + h.score, 0) < 3, 'a plain short message scores low');
});

t.test('the rule file: JSON under a comment header, read without the YAML parser; other YAML still loads', async (t) => {
  const shipped = readFileSync(defaultSaRulesFile(), 'utf8');
  const body = shipped.replace(/^(?:#[^\n]*\n)*/, '');
  t.ok(body.startsWith('{'), 'the shipped body is JSON');
  t.doesNotThrow(() => JSON.parse(body), 'valid JSON');
  t.same(parseYaml(shipped, { maxAliasCount: -1 }), JSON.parse(body), 'and the same data read as YAML');
  const data = { source: 'test', scoreSet: 2, freemail: ['a.test'], rules: [{ name: 'X', type: 'body', pattern: '/x/', score: 1 }] } as unknown as SaRuleFile;
  const text = `# header\n#\n${formatSaRuleFile(data)}`;
  t.equal(text.split('\n').filter((l) => l.startsWith('{"name"')).length, 1, 'one rule per line');
  t.same(parseSaRuleText(text), data, 'round trip');
  t.same(parseSaRuleText('# hand-written\nsource: x\nscoreSet: 2\nrules:\n  - name: Y\n    score: 1\n'), { source: 'x', scoreSet: 2, rules: [{ name: 'Y', score: 1 }] }, 'plain YAML falls back to the YAML parser');
});
