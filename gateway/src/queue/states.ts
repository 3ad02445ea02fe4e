/*
 * queue/states.ts — the queue's places and the record-level moves between them.
 *
 * Places: incoming (new, due now), deferred (waiting for its next attempt), hold (parked by the
 * postmaster or an auto-hold), corrupt (unreadable; kept for inspection, never deleted).
 * `active` is not persisted: it is the queue manager's in-memory claim while it delivers, so a
 * crash simply leaves the entry due and it is retried (at-least-once delivery).
 * Invariant: an entry has exactly one `due` key, [nextAttemptAt, qid], iff its state is incoming
 * or deferred. Every function here runs inside the caller's LMDB transaction (or issues its puts
 * in one event turn, which lmdb-js commits as one transaction).
 */
import type { QueueEntry, QueueState } from '../core/index.js';
import type { StateEnvs } from '../state/index.js';

let traceSeq = 0;

export function isScheduled(state: QueueState): boolean {
  return state === 'incoming' || state === 'deferred';
}

/** Record a new entry and its due key. Resolves after the durable commit (overlappingSync: false). */
export function insertEntry(st: StateEnvs, entry: QueueEntry): Promise<unknown> {
  const puts: Promise<unknown>[] = [st.queue.put(entry.qid, entry)];
  if (isScheduled(entry.state)) puts.push(st.due.put([entry.nextAttemptAt, entry.qid], 1));
  return Promise.all(puts);
}

/** Replace an entry, moving its due key if the schedule changed. Call inside `transactionSync`/`transaction`. */
export function replaceEntry(st: StateEnvs, before: QueueEntry, after: QueueEntry): void {
  if (isScheduled(before.state)) st.due.removeSync([before.nextAttemptAt, before.qid]);
  st.queue.putSync(after.qid, after);
  if (isScheduled(after.state)) st.due.putSync([after.nextAttemptAt, after.qid], 1);
}

/** Remove an entry and its due key. Call inside a transaction. */
export function removeEntry(st: StateEnvs, entry: QueueEntry): void {
  if (isScheduled(entry.state)) st.due.removeSync([entry.nextAttemptAt, entry.qid]);
  st.queue.removeSync(entry.qid);
}

/** Append a trace event for `tuxhat trace` (inside a transaction). The key sorts by qid, then time. */
export function traceEventSync(st: StateEnvs, qid: string, event: string, fields: Record<string, unknown>, at = Date.now()): void {
  traceSeq = (traceSeq + 1) % 1_000_000;
  st.trace.putSync([qid, at, process.pid * 1_000_000 + traceSeq], { ...fields, at, event });
}

/** The `queued` event of an entry, from its receipt. */
export function receiptEvent(entry: QueueEntry): { at: number; event: 'queued'; [k: string]: unknown } {
  return { ...entry.receipt, at: entry.receivedAt, event: 'queued' };
}
