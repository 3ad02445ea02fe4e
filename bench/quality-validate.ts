/*
 * bench/quality-validate.ts — validation INSIDE TRAIN for choosing scores and features (never
 * TEST). Splits TRAIN (easy-ham-1 + spam-1 + odd hard-ham-1) in one of two ways:
 *   --split time  per group, the lower 60% of ids learned, the upper 40% judged (the corpus ids
 *                 follow collection order: this mimics TEST's later spam-2);
 *   --split cv    fold k of 5 (seeded shuffle): 80% learned, 20% judged.
 * Learns a fresh Bayes store on the learned part, scores the judged part through scoreMessage
 * (no spamscanner threads) and writes one JSON line per judged message — class, group, Bayes
 * probability, every hit with its score — so score variants can be compared offline
 * (bench/quality-tune.py). Run: npx tsc -p bench/tsconfig.json && node dist/bench/quality-validate.js
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../gateway/src/config/index.js';
import { loadContentScores } from '../gateway/src/content/index.js';
import { createSpamRuntime, learnItem, scoreMessage, tokensOf } from '../gateway/src/content/spam/index.js';
import { DEFAULT_PARAMS } from '../gateway/src/content/spam/classifier.js';
import { BayesStore, type LearnItem } from '../gateway/src/state/bayes-store.js';
import { openState } from '../gateway/src/state/index.js';
import { loadGroup, type CorpusItem } from './corpus.js';

const { values: opts } = parseArgs({
  options: {
    corpus: { type: 'string', default: 'bench/.cache/spam-assassin/package/data' },
    split: { type: 'string', default: 'time' },
    fold: { type: 'string', default: '0' },
    out: { type: 'string', default: '' },
    limit: { type: 'string', default: '0' },
    features: { type: 'boolean', default: false },
    'no-sa-rules': { type: 'boolean', default: false },
    // Classifier constants to try instead of the shipped ones: "s,x,minDev" (e.g. SpamAssassin's 0.030,0.538,0.346).
    'bayes-params': { type: 'string', default: '' },
  },
});

type Item = CorpusItem;
const load = (group: string, spam: boolean, keep: (id: number) => boolean): Item[] => loadGroup(opts.corpus!, group, spam, keep);
const groups = [load('easy-ham-1', false, () => true), load('spam-1', true, () => true), load('hard-ham-1', false, (id) => id % 2 === 1)];
let learn: Item[] = [];
let judge: Item[] = [];
if (opts.split === 'time') {
  for (const g of groups) {
    const sorted = [...g].sort((a, b) => a.id - b.id);
    const cut = Math.floor(sorted.length * 0.6);
    learn.push(...sorted.slice(0, cut));
    judge.push(...sorted.slice(cut));
  }
} else {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const all = groups.flat().map((x) => [rnd(), x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
  const k = Number(opts.fold);
  judge = all.filter((_, i) => i % 5 === k);
  learn = all.filter((_, i) => i % 5 !== k);
}
const limit = Number(opts.limit);
if (limit > 0) judge = judge.filter((_, i) => i % Math.ceil(judge.length / limit) === 0);
process.stderr.write(`[validate] ${opts.split}: learn ${learn.length}, judge ${judge.length}\n`);

const stateDir = mkdtempSync(join(tmpdir(), 'tuxhat-validate-'));
const config = parseConfig({ paths: { state: stateDir }, spam: { spamassassinRules: !opts['no-sa-rules'], features: { enabled: opts.features! } } });
const state = openState(stateDir);
const store = new BayesStore(state.durable);
let batch: LearnItem[] = [];
for (const item of learn) {
  batch.push(learnItem(await tokensOf(item.raw, config.spam.maxBytes), item.spam ? 'spam' : 'ham', [], 'validate'));
  if (batch.length >= 500) { await store.learn(batch); batch = []; }
}
await store.learn(batch);
const rt0 = createSpamRuntime(config, state.durable, loadContentScores().spam);
const bp = opts['bayes-params'] ? opts['bayes-params'].split(',').map(Number) : null;
const rt = bp ? { ...rt0, params: { ...DEFAULT_PARAMS, s: bp[0]!, x: bp[1]!, minDev: bp[2]! } } : rt0;
await rt.features?.warm();
const lines: string[] = [];
const t0 = performance.now();
for (const item of judge) {
  const r = await scoreMessage(rt, item.raw, item.raw.length, []);
  lines.push(JSON.stringify({ g: item.group, id: item.id, spam: item.spam, p: r.probability, hits: r.hits.map((h) => [h.name, h.score]) }));
}
const secs = (performance.now() - t0) / 1000;
process.stderr.write(`[validate] scored ${judge.length} in ${secs.toFixed(1)} s (${(judge.length / secs).toFixed(1)} msg/s)\n`);
writeFileSync(opts.out || `bench/.cache/validate-${opts.split}${opts.split === 'cv' ? opts.fold : ''}.jsonl`, `${lines.join('\n')}\n`);
await rt.features?.close();
await state.close();
rmSync(stateDir, { recursive: true, force: true });
