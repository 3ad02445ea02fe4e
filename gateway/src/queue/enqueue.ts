/*
 * queue/enqueue.ts — commit a received message to the queue: the only place a 250 is earned.
 *
 * Input: an entry whose spool file is already written and fsync'd (queue/spool.ts). Output: the
 * resolved promise means the queue record (with its receipt) and its due key are committed
 * *and synced* (durable env opened with overlappingSync: false). All sessions of a process that
 * enqueue in the same event turn share one LMDB transaction and one sync (group commit).
 * Storage errors become GatewayError SPOOL_FULL (452 4.3.1) or LOCAL_ERROR (451 4.3.0).
 * Runs in receiver workers.
 */
import { GatewayError, type QueueEntry } from '../core/index.js';
import type { StateEnvs } from '../state/index.js';
import { insertEntry } from './states.js';

export async function enqueue(st: StateEnvs, entry: QueueEntry): Promise<void> {
  try {
    await insertEntry(st, entry);
  } catch (err) {
    throw storageError(err);
  }
}

/** Map a storage failure to the reply the client should get: nothing is decided, so 4xx. */
export function storageError(err: unknown): GatewayError {
  const e = err as NodeJS.ErrnoException;
  const text = `${e?.code ?? ''} ${e?.message ?? ''}`;
  if (/ENOSPC|EDQUOT|MDB_MAP_FULL|No space left/i.test(text)) return new GatewayError('SPOOL_FULL', undefined, { cause: err });
  return new GatewayError('LOCAL_ERROR', undefined, { cause: err });
}
