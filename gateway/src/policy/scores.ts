/*
 * policy/scores.ts — the session policy symbols and their scores (rules/scores/policy.yaml).
 * Loaded when the policy module is first imported, so a missing or unknown symbol stops the
 * receiver at start-up like any other score file (content/scores.ts does the checking).
 */
import { loadScores, type ScoreTable } from '../content/scores.js';

export const POLICY_SYMBOLS = [
  'ACCESS_ALLOW', 'ACCESS_DENY', 'ACCESS_SCORE', 'DNSBL_SUM', 'RDNS_NONE', 'RDNS_MISMATCH', 'HELO_INVALID', 'HELO_OURS',
] as const;
export type PolicySymbol = (typeof POLICY_SYMBOLS)[number];

let table: ScoreTable | undefined;

/** The policy score table (loaded once per process). */
export function policyScores(): ScoreTable {
  table ??= loadScores('policy', POLICY_SYMBOLS);
  return table;
}
