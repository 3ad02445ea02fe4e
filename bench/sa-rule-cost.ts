/*
 * bench/sa-rule-cost.ts — which SpamAssassin rules (rules/spamassassin/rules.yaml) cost the most
 * CPU, on messages of TRAIN only (the judged part of the time split: the upper 40 % of ids of each
 * TRAIN group). Prints the top rules by total time with their type and whether they score.
 * Run: npx tsc -p bench/tsconfig.json && node dist/bench/sa-rule-cost.js [--top 30]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { parseMessage } from '../gateway/src/content/spam/parse.js';
import { compileSaRules, defaultSaRulesFile, saHits, type SaRuleFile } from '../gateway/src/content/spam/sa-rules.js';
import { splitMbox } from '../gateway/src/content/spam/mailbox.js';

const { values: opts } = parseArgs({ options: { corpus: { type: 'string', default: 'bench/.cache/spam-assassin/package/data' }, top: { type: 'string', default: '30' } } });
const data = parseYaml(readFileSync(defaultSaRulesFile(), 'utf8'), { maxAliasCount: -1 }) as SaRuleFile;
const set = compileSaRules(data.rules, data.freemail ?? [], { timing: true });
const msgs: Buffer[] = [];
for (const [group, keep] of [['easy-ham-1', () => true], ['spam-1', () => true], ['hard-ham-1', (id: number) => id % 2 === 1]] as const) {
  const files = readdirSync(join(opts.corpus!, group)).filter((f) => f.endsWith('.txt') && keep(Number(f.slice(0, 5)))).sort();
  for (const f of files.slice(Math.floor(files.length * 0.6))) {
    const m = [...splitMbox(f, readFileSync(join(opts.corpus!, group, f)))][0];
    if (m) msgs.push(m.raw);
  }
}
const parsed = await Promise.all(msgs.map((m) => parseMessage(m)));
// The same rules without reordering metas' && operands, interleaved, for comparison.
const plain = compileSaRules(data.rules, data.freemail ?? [], { reorder: false });
// A first pass untimed: each rule regex is compiled to native code at its first run (sa-rules.ts
// nativeCode), a one-off cost per process that is not the rule's per-message cost.
for (const p of parsed) {
  saHits(set, p);
  saHits(plain, p);
}
set.timing!.fill(0);
let total = 0;
let totalPlain = 0;
for (let round = 0; round < 2; round++) {
  for (const p of parsed) {
    const t0 = performance.now();
    saHits(set, p);
    const t1 = performance.now();
    saHits(plain, p);
    total += t1 - t0;
    totalPlain += performance.now() - t1;
  }
}
total /= 2;
totalPlain /= 2;
set.timing!.forEach((v, i) => { set.timing![i] = v / 2; });
process.stdout.write(`without reordering metas' && operands: ${(totalPlain / parsed.length).toFixed(3)} ms/message\n`);
const rows = set.rules.map((c) => [c.rule.name, c.rule.type, c.rule.score, set.timing![c.index]!] as const).sort((a, b) => b[3] - a[3]);
process.stdout.write(`${parsed.length} messages, SpamAssassin rules ${(total / parsed.length).toFixed(3)} ms/message\n`);
for (const [name, type, score, ms] of rows.slice(0, Number(opts.top))) process.stdout.write(`${(ms / parsed.length).toFixed(4)} ms/msg  ${type.padEnd(7)} ${String(score).padEnd(6)} ${name}\n`);
