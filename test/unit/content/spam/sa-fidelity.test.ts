/*
 * Unit tests of the fixes found by the fidelity diff against SpamAssassin 4.0.1 on TRAIN
 * (bench/sa-fidelity-run.py, bench/sa-fidelity-diff.py; docs/benchmarks.md): each fixed or ported
 * rule behaviour with a message that must hit and one that must not.
 */
import t from 'tap';
import { convertSaRules } from '../../../../gateway/src/content/spam/sa-convert.js';
import { compileSaRules, loadSaRules, metaJs, saHits } from '../../../../gateway/src/content/spam/sa-rules.js';
import { parseMessage } from '../../../../gateway/src/content/spam/parse.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'));
const names = async (cf: string, msg: string) => saHits(compileSaRules(convertSaRules([{ name: 't.cf', text: cf }], 2).rules), await parseMessage(crlf(msg))).map((h) => h.name).sort();

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
