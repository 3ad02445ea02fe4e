/*
 * bench/scan-cpu.ts — CPU per message of the `tuxhat scan` code path (scanOne: the content
 * pipeline with spamscanner's features on, and the verdict) on TRAIN only, and every result, so a
 * speed change can show both its CPU and that it changed no verdict, score or symbol.
 *
 * The time split of bench/quality-validate.ts: per TRAIN group the lower 60 % of ids are learned
 * (Bayes), the upper 40 % (1,250 messages) scanned, in this one process (the spamscanner thread
 * included: process.cpuUsage counts every thread). The scan runs `--rounds` times (default 2);
 * each round's CPU and wall time are printed, and the lines of the last round are written to
 * `--out` (one JSON line per message: file, score, action, symbols with score and detail).
 * Run it at `nice -n 19` on a shared machine and compare CPU, not wall time.
 * Run: npx tsc -p bench/tsconfig.json && nice -n 19 node dist/bench/scan-cpu.js --out /tmp/a.jsonl
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scanOne } from '../gateway/src/cli/spam-commands.js';
import { parseConfig } from '../gateway/src/config/index.js';
import { loadContentScores } from '../gateway/src/content/index.js';
import { createSpamRuntime, learnItem, tokensOf } from '../gateway/src/content/spam/index.js';
import { BayesStore, type LearnItem } from '../gateway/src/state/bayes-store.js';
import { openState } from '../gateway/src/state/index.js';
import { loadGroup, type CorpusItem } from './corpus.js';

const { values: opts } = parseArgs({
  options: {
    corpus: { type: 'string', default: 'bench/.cache/spam-assassin/package/data' },
    out: { type: 'string', default: '' },
    rounds: { type: 'string', default: '2' },
    'no-features': { type: 'boolean', default: false },
    // A V8 CPU profile of the main thread during the scan rounds only (not the learning).
    profile: { type: 'string', default: '' },
  },
});

type Item = CorpusItem;
const load = (group: string, spam: boolean, keep: (id: number) => boolean): Item[] => loadGroup(opts.corpus!, group, spam, keep);
const learn: Item[] = [];
const judge: Item[] = [];
for (const g of [load('easy-ham-1', false, () => true), load('spam-1', true, () => true), load('hard-ham-1', false, (id) => id % 2 === 1)]) {
  const cut = Math.floor(g.length * 0.6);
  learn.push(...g.slice(0, cut));
  judge.push(...g.slice(cut));
}

const stateDir = mkdtempSync(join(tmpdir(), 'tuxhat-scan-cpu-'));
const config = parseConfig({ paths: { state: stateDir }, spam: { features: { enabled: !opts['no-features'] } } });
const state = openState(stateDir);
const store = new BayesStore(state.durable);
let batch: LearnItem[] = [];
for (const item of learn) {
  batch.push(learnItem(await tokensOf(item.raw, config.spam.maxBytes), item.spam ? 'spam' : 'ham', [], 'scan-cpu'));
  if (batch.length >= 500) { await store.learn(batch); batch = []; }
}
await store.learn(batch);
const scores = loadContentScores();
const rt = createSpamRuntime(config, state.durable, scores.spam);
await rt.features?.warm();
// One message first: lazy imports (mailparser) and the rule compilation are not per-message cost.
await scanOne(config, scores, rt, judge[0]!.name, judge[0]!.raw);
let lines: string[] = [];
const inspector = opts.profile ? new Session() : null;
if (inspector) {
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.start');
}
for (let round = 0; round < Number(opts.rounds); round++) {
  lines = [];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const item of judge) lines.push(JSON.stringify(await scanOne(config, scores, rt, item.name, item.raw)));
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  process.stdout.write(`round ${round + 1}: ${judge.length} messages, CPU ${((cpu.user + cpu.system) / 1000 / judge.length).toFixed(3)} ms/message (user ${(cpu.user / 1000 / judge.length).toFixed(3)}), wall ${(wall / judge.length).toFixed(3)} ms/message\n`);
}
if (inspector) writeFileSync(opts.profile!, JSON.stringify((await inspector.post('Profiler.stop')).profile));
if (opts.out) writeFileSync(opts.out, `${lines.join('\n')}\n`);
await rt.features?.close();
await state.close();
rmSync(stateDir, { recursive: true, force: true });
