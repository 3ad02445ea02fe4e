/*
 * state/trace-sweep.ts — the trace store's retention: without it every message ever handled
 * would stay in queue.lmdb. Trace keys start with the queue id, and queue ids start with their
 * arrival time, so everything older than the cutoff is one key range from the start.
 * Bounded per call (the primary calls it from its periodic sweep), one transaction each.
 * Runs in the primary.
 */
import { newQid } from '../core/index.js';
import type { StateEnvs } from './envs.js';

export async function sweepTrace(st: StateEnvs, olderThan: number, limit = 20_000): Promise<number> {
  // The first 10 characters of a qid encode its arrival time; every qid of an earlier
  // millisecond sorts before this prefix.
  const cutoff = newQid(olderThan).slice(0, 10);
  let removed = 0;
  await st.durable.transaction(() => {
    for (const key of st.trace.getKeys({ start: [''], end: [cutoff], limit, snapshot: false })) {
      const k = key as [string, number, number];
      // A message still queued past the retention keeps its story.
      if (st.queue.get(k[0]) !== undefined) continue;
      st.trace.removeSync(k);
      removed++;
    }
  });
  return removed;
}
