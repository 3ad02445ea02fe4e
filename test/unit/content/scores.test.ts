/*
 * Unit tests of content/scores.ts: the shipped rules/scores/authentication.yaml scores exactly
 * the symbols the authentication check emits (house style §7), and a broken score file is
 * refused with FILE:LINE like a config error.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../../gateway/src/config/index.js';
import { defaultScoresDir, loadContentScores, loadScores, parseScores } from '../../../gateway/src/content/index.js';
import { AUTHENTICATION_SYMBOLS } from '../../../gateway/src/content/checks/authentication.js';

t.test('every emitted authentication symbol has a score, and every score names an emitted symbol', async (t) => {
  const text = readFileSync(join(defaultScoresDir(), 'authentication.yaml'), 'utf8');
  const inFile = [...text.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]).sort();
  t.same(inFile, [...AUTHENTICATION_SYMBOLS].sort());
  const scores = loadContentScores();
  for (const s of AUTHENTICATION_SYMBOLS) t.type(scores.authentication.score(s), 'number', s);
  t.same(scores.authentication.hit('SPF_FAIL', 'x'), { name: 'SPF_FAIL', score: 1, detail: 'x' });
  t.throws(() => scores.authentication.hit('SPF_UNKNOWN'), /SPF_UNKNOWN has no score/);
});

t.test('a missing or an unknown symbol is refused, naming the file', async (t) => {
  const yaml = 'symbols:\n  SPF_ALLOW: { score: -1, description: "ok" }\n  SPF_EXTRA: { score: 1, description: "x" }\n';
  const err = t.throws(() => parseScores('g', yaml, 'g.yaml', ['SPF_ALLOW', 'SPF_FAIL'])) as ConfigError;
  t.equal(err.name, 'ConfigError');
  t.same(err.problems, [
    'g.yaml: symbols.SPF_FAIL: emitted by the g check but has no score',
    'g.yaml: symbols.SPF_EXTRA: no check emits this symbol',
  ]);
});

t.test('schema errors name FILE:LINE (the config loader is reused)', async (t) => {
  const yaml = 'symbols:\n  SPF_ALLOW: { score: -1, description: "ok" }\n  spf_bad: { score: 1, description: "x" }\n';
  const err = t.throws(() => parseScores('g', yaml, 'g.yaml', ['SPF_ALLOW'])) as ConfigError;
  t.match(err.problems.join('\n'), /g\.yaml:3: symbols\.spf_bad: Invalid key/);
  const badScore = 'symbols:\n  SPF_ALLOW:\n    score: high\n    description: "ok"\n';
  const err2 = t.throws(() => parseScores('g', badScore, 'g.yaml', ['SPF_ALLOW'])) as ConfigError;
  t.match(err2.problems.join('\n'), /g\.yaml:3: symbols\.SPF_ALLOW\.score: /);
  const syntax = t.throws(() => parseScores('g', 'symbols: [\n', 'g.yaml', [])) as ConfigError;
  t.match(syntax.problems[0], /^g\.yaml:\d+: YAML syntax/);
  const missing = t.throws(() => loadScores('nope', [], '/nonexistent')) as ConfigError;
  t.match(missing.problems[0], /nope\.yaml: cannot read/);
});
