/*
 * bench/sa-hits-dump.ts — every SpamAssassin rule result (all rules, sub-rules included) for every
 * message of TRAIN, one line per message, to check that a speed change to the rule engine keeps
 * identical hits: dump before and after, then `cmp`. Never reads TEST.
 * Run: npx tsc -p bench/tsconfig.json && node dist/bench/sa-hits-dump.js > before.txt
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { splitMbox } from '../gateway/src/content/spam/mailbox.js';
import { parseMessage } from '../gateway/src/content/spam/parse.js';
import { evaluateSa, loadSaRules } from '../gateway/src/content/spam/sa-rules.js';

const { values: opts } = parseArgs({ options: { corpus: { type: 'string', default: 'bench/.cache/spam-assassin/package/data' } } });
const set = loadSaRules();
for (const [group, keep] of [['easy-ham-1', () => true], ['spam-1', () => true], ['hard-ham-1', (id: number) => id % 2 === 1]] as const) {
  for (const f of readdirSync(join(opts.corpus!, group)).filter((x) => x.endsWith('.txt') && keep(Number(x.slice(0, 5)))).sort()) {
    const m = [...splitMbox(f, readFileSync(join(opts.corpus!, group, f)))][0];
    if (!m) continue;
    // Every rule, not only what the lazy evaluation reached: force each one.
    const h = evaluateSa(set, await parseMessage(m.raw), true);
    process.stdout.write(`${group}/${f.slice(0, 5)} ${set.rules.filter((c) => h[c.index]).map((c) => c.rule.name).join(' ')}\n`);
  }
}
