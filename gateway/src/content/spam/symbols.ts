/*
 * content/spam/symbols.ts — the spam check's symbol names, without the engine: content/index.ts
 * loads the score table at start (synchronously) from this list, while the parser, tokenizer
 * and engine (mailparser: ~27 MB RSS per process) are imported at the first message scored.
 * Keep this module free of heavy imports.
 */
import { HEURISTIC_SYMBOLS } from './heuristics.js';

/** Bayes bands, most spammy first: the symbol for probability ≥ floor. */
export const BAYES_BANDS: ReadonlyArray<readonly [string, number]> = [
  ['BAYES_SPAM_99', 0.99], ['BAYES_SPAM_95', 0.95], ['BAYES_SPAM_80', 0.8], ['BAYES_SPAM_60', 0.6],
  ['BAYES_UNSURE', 0.4], ['BAYES_HAM_40', 0.2], ['BAYES_HAM_20', 0.05], ['BAYES_HAM_05', 0],
];

export const FEATURE_SYMBOL: Record<string, string> = {
  phishing: 'SPAMSCANNER_PHISHING', suspicious: 'SPAMSCANNER_SUSPICIOUS_URL', idn: 'SPAMSCANNER_IDN_HOMOGRAPH',
  executable: 'SPAMSCANNER_EXECUTABLE', macro: 'SPAMSCANNER_MACRO',
};

/** Every symbol the spam check emits; rules/scores/spam.yaml must score exactly these. */
export const SPAM_SYMBOLS = [
  ...HEURISTIC_SYMBOLS,
  ...BAYES_BANDS.map(([n]) => n), 'BAYES_UNTRAINED',
  ...Object.values(FEATURE_SYMBOL), 'SPAMSCANNER_UNAVAILABLE',
  'SPAM_TRUNCATED',
  // scanContent's name for the spam check missing its deadline or throwing.
  'SPAM_TEMPFAIL',
] as const;
