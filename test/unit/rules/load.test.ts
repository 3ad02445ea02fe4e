/*
 * Unit tests of rule loading (rules/load.ts, schema.ts): the shipped rule set loads and has at
 * least 50 enabled rules; broken files are refused with FILE:LINE: field: problem.
 */
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRuleSet, parseRuleFile } from '../../../gateway/src/rules/index.js';

t.test('the default rule set loads: at least 50 enabled rules, each documented', async (t) => {
  const set = loadRuleSet(['builtin']);
  t.ok(set.rules.length >= 50, `${set.rules.length} enabled rules`);
  t.ok(set.files.every((f) => !f.includes('/scores/')), 'rules/scores is not a rule directory');
  const undocumented = set.rules.filter((r) => !r.def.description && !/^(missing|empty|spf|dkim)-/.test(r.name)).map((r) => r.name);
  t.ok(undocumented.length <= 10, `most rules say why: ${undocumented.join(', ')}`);
});

t.test('errors name the file, the line and the field', async (t) => {
  const text = [
    'rules:',
    '  - name: one',
    '    what:',
    '      - attachment: { nam: x }',
    "      - subject: '(['",
    '    actions:',
    '      - reject: { code: 500 }',
    '      - tagsubject: x',
    '  - name: Two',
    '    when: [ { zone: Mars/Olympus } ]',
    '    actions: [ accept, bogus ]',
    '  - name: three',
    '    who: [ { sender: { domain: a.test }, recipient: { domain: b.test } } ]',
    '    actions: []',
  ].join('\n');
  let err: Error | undefined;
  try { parseRuleFile(text, 'site.yaml'); } catch (e) { err = e as Error; }
  t.ok(err);
  const msg = err!.message;
  t.match(msg, /site\.yaml:4: rules\[0\]\.what\[0\]\.attachment: Unrecognized key: "nam"/);
  t.match(msg, /site\.yaml:5: rules\[0\]\.what\[1\]\.subject: not a valid regular expression/);
  t.match(msg, /site\.yaml:7: rules\[0\]\.actions\[0\]\.reject\.code: code must be 550, 554 or 451/);
  t.match(msg, /site\.yaml:8: rules\[0\]\.actions\[1\]\.tagsubject: unknown action tagsubject; expected one of: reject/);
  t.match(msg, /site\.yaml:9: rules\[1\]\.name: rule names are lower-case words/);
  t.match(msg, /site\.yaml:10: rules\[1\]\.when\[0\]\.zone: unknown time zone Mars\/Olympus/);
  t.match(msg, /site\.yaml:11: rules\[1\]\.actions\[1\]: unknown action bogus/);
  t.match(msg, /site\.yaml:13: rules\[2\]\.who\[0\]: one condition per list item \(found sender, recipient\); use all/);
  t.match(msg, /site\.yaml:14: rules\[2\]\.actions: /);
});

t.test('a directory with one broken file refuses the whole set; list files are read relative to the rule file', async (t) => {
  const dir = t.testdir({});
  mkdirSync(join(dir, 'site'));
  writeFileSync(join(dir, 'site', 'vip.txt'), '# VIPs\nceo@corp.test\n@board.corp.test\n');
  writeFileSync(join(dir, 'site', 'a.yaml'), 'rules:\n  - { name: vip, who: [ { sender: { list: vip.txt } } ], actions: [ accept ] }\n');
  const ok = loadRuleSet([join(dir, 'site'), join(dir, 'missing')]);
  t.same(ok.rules.map((r) => r.name), ['vip']);
  writeFileSync(join(dir, 'site', 'b.yaml'), 'rules:\n  - name: y\n    actions: [ { score: high } ]\n');
  writeFileSync(join(dir, 'site', 'c.yaml'), 'rules:\n  - { name: x, who: [ { sender: { list: nope.txt } } ], actions: [ accept ] }\n');
  t.throws(() => loadRuleSet([join(dir, 'site')]), /b\.yaml:3: rules\[0\]\.actions\[0\]\.score: [\s\S]*nope\.txt: cannot read/);
});
