/*
 * state/envs.ts — open the LMDB environments every process shares.
 *
 * Two environments because sync flags are per environment (ARCHITECTURE "Process model"):
 * - durable (queue.lmdb): queue index, due index, trace events. overlappingSync: false, so a
 *   write's promise resolves only after the commit is on disk; many sessions' writes issued in
 *   one event turn share one commit and one fsync (group commit, libraries.md §5: 2000 puts in
 *   one turn took 25–85 ms here).
 * - cache (cache.lmdb): rebuildable data (reputation, greylist, rate counters). noSync and a
 *   writable map: a commit is memory writes only (without the map LMDB pwrites every dirty page
 *   and the meta page: ~4 system calls per rate-limit commit, a visible share of each message).
 *   A crash of the machine may corrupt it, so on an open error it is deleted and rebuilt.
 * Every process (primary and receiver workers) opens both once; LMDB locking makes that safe.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { QueueEntry } from '../core/index.js';

export interface TraceEvent {
  readonly at: number;
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface StateEnvs {
  readonly durable: RootDatabase;
  readonly cache: RootDatabase;
  /** qid → QueueEntry */
  readonly queue: Database<QueueEntry, string>;
  /** [nextAttemptAt, qid] → 1: the scheduler's index of due entries. */
  readonly due: Database<number, [number, string]>;
  /** [qid, at, seq] → TraceEvent: the message's story for `tuxhat trace`. */
  readonly trace: Database<TraceEvent, [string, number, number]>;
  /** Run `fn` first when the environments close (stores that batch writes flush there). */
  onClose(fn: () => void): void;
  close(): Promise<void>;
}

export function openState(stateDir: string): StateEnvs {
  mkdirSync(stateDir, { recursive: true, mode: 0o750 });
  const durable = open({ path: join(stateDir, 'queue.lmdb'), maxDbs: 16, overlappingSync: false, maxReaders: 254 });
  let cache: RootDatabase;
  const cachePath = join(stateDir, 'cache.lmdb');
  try {
    cache = open({ path: cachePath, maxDbs: 16, noSync: true, useWritemap: true, maxReaders: 254 });
  } catch {
    // A noSync environment can be corrupt after a crash; it only holds rebuildable data.
    rmSync(cachePath, { force: true });
    rmSync(`${cachePath}-lock`, { force: true });
    cache = open({ path: cachePath, maxDbs: 16, noSync: true, useWritemap: true, maxReaders: 254 });
  }
  const queue = durable.openDB<QueueEntry, string>('queue', { encoding: 'msgpack' });
  const due = durable.openDB<number, [number, string]>('due', { encoding: 'msgpack', keyEncoding: 'ordered-binary' });
  const trace = durable.openDB<TraceEvent, [string, number, number]>('trace', { encoding: 'msgpack', keyEncoding: 'ordered-binary' });
  const closing: Array<() => void> = [];
  return {
    durable, cache, queue, due, trace,
    onClose(fn) {
      closing.push(fn);
    },
    async close() {
      for (const fn of closing.splice(0)) fn();
      await durable.close();
      await cache.close();
    },
  };
}
