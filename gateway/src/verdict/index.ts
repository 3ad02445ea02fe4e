/*
 * verdict/ — add up symbol scores and choose the action: Hit[] → Verdict.
 * Until thresholds and rules exist (issues 4 and 6), every message that the content stage could
 * judge is delivered with its score; one it could not judge is deferred (4xx), never passed.
 */
import type { Direction, Hit, Verdict } from '../core/index.js';

export interface VerdictInput {
  readonly direction: Direction;
  readonly hits: readonly Hit[];
  readonly tempfail: boolean;
}

export function decide(input: VerdictInput): Verdict {
  const score = Math.round(input.hits.reduce((sum, h) => sum + h.score, 0) * 100) / 100;
  if (input.tempfail) {
    return { action: 'defer', score, hits: input.hits, reply: 'LOCAL_ERROR', headerEdits: [], extraRecipients: [] };
  }
  return { action: 'deliver', score, hits: input.hits, headerEdits: [], extraRecipients: [] };
}
