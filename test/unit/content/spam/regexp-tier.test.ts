/*
 * Unit tests of content/spam/regexp-tier.ts: SpamAssassin's rule regexes give the same answers
 * as native code (compileNow, as compileSaRules makes them) as in V8's bytecode
 * interpreter (what most of them ran in before; a child process started with
 * --regexp-interpret-all), on texts built from the rules' own literals;
 * and fixedRegExp compiles a (source, flags) once and refuses the stateful g and y flags.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { compileNow, fixedRegExp } from '../../../../gateway/src/content/spam/regexp-tier.js';
import { defaultSaRulesFile, parseSaRuleText, requiredLiteral } from '../../../../gateway/src/content/spam/sa-rules.js';
import { requiredAlternatives } from '../../../../gateway/src/content/spam/sa-prefilter.js';
import { readFileSync } from 'node:fs';

/** Reads {rules: [[source, flags]], texts} on stdin, prints one answer string per rule. */
const CHILD = `
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { rules, texts } = JSON.parse(input);
process.stdout.write(JSON.stringify(rules.map(([src, flags]) => {
  const re = new RegExp(src, flags);
  return texts.map((x) => (re.test(x) ? '1' : '0')).join('');
})));
`;

t.test('compileNow: the same RegExp back, lastIndex 0, answers unchanged', async (t) => {
  const g = /a+/g;
  t.equal(compileNow(g), g);
  t.equal(g.lastIndex, 0);
  t.same('xaay aaa'.match(g), ['aa', 'aaa']);
  const ci = compileNow(/^from (\S+) \(helo=(\S+?)\)/i);
  t.same(ci.exec('FROM mx.test (HELO=a.test)')?.slice(1), ['mx.test', 'a.test']);
});

t.test('fixedRegExp: one RegExp per source and flags; no g or y', async (t) => {
  const a = fixedRegExp(';\\s*charset\\s*=\\s*([^;\\s]+)', 'i');
  t.equal(fixedRegExp(';\\s*charset\\s*=\\s*([^;\\s]+)', 'i'), a, 'the same object the second time');
  t.not(fixedRegExp(';\\s*charset\\s*=\\s*([^;\\s]+)'), a, 'other flags, another RegExp');
  t.equal(a.exec('text/plain; CHARSET=utf-8')?.[1], 'utf-8');
  t.equal(fixedRegExp('^x$').test('y'), false);
  t.throws(() => fixedRegExp('x', 'g'));
  t.throws(() => fixedRegExp('x', 'iy'));
});

t.test('every SpamAssassin rule regex: native code answers as the bytecode interpreter does', async (t) => {
  const rules = parseSaRuleText(readFileSync(defaultSaRulesFile(), 'utf8')).rules.filter((r) => r.re !== undefined);
  t.ok(rules.length > 1000, `${rules.length} regex rules`);
  // Texts from the rules' own required strings (so many rules get near a match and some hit),
  // with separators, digits, case changes and non-Latin-1 characters (two-byte strings).
  const pieces = [...new Set(rules.flatMap((r) => [requiredLiteral(r.re!), ...(requiredAlternatives(r.re!) ?? [])]).filter((x): x is string => x !== null))];
  let seed = 42;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const seps = [' ', '  ', '\n', ': ', '. ', ', ', '-', '_', ' 1234 ', ' $5,000,000 ', '!!! ', ' http://192.0.2.1/x ', ' é ', ' ü ', ' \u0410 ', '=3D', '&#105;', 'ı'];
  const texts: string[] = [];
  for (let i = 0; i < 60; i++) {
    let s = '';
    for (let k = 0; k < 6 + rnd(30); k++) {
      const p = pieces[rnd(pieces.length)]!;
      s += (rnd(3) === 0 ? p.toUpperCase() : p) + seps[rnd(seps.length)]!;
    }
    texts.push(s);
  }
  // The interpreter's answers from a child process started with --regexp-interpret-all (set at
  // start-up: switching it on at run time is not safe in V8), native code's answers here.
  const child = spawnSync(process.execPath, ['--regexp-interpret-all', '--input-type=module', '-e', CHILD], {
    input: JSON.stringify({ rules: rules.map((r) => [r.re, r.flags ?? '']), texts }), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  t.equal(child.status, 0, child.stderr);
  const interpreted = JSON.parse(child.stdout) as string[];
  const native = rules.map((r) => {
    const re = compileNow(new RegExp(r.re!, r.flags ?? ''));
    return texts.map((x) => (re.test(x) ? '1' : '0')).join('');
  });
  const hits = interpreted.reduce((a, s) => a + [...s].filter((c) => c === '1').length, 0);
  t.ok(hits > 200, `the texts make rules hit (${hits} rule×text hits)`);
  const differ = rules.filter((_, i) => interpreted[i] !== native[i]).map((r) => r.name);
  t.same(differ, [], 'no rule answers differently');
});
