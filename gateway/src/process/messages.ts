/*
 * process/messages.ts — the IPC vocabulary between the primary and receiver workers.
 * Small and typed; anything else arriving on the channel is ignored.
 */
import type { Config } from '../config/index.js';

export type ToWorker =
  | { readonly type: 'start'; readonly config: Config; readonly generation: number }
  /**
   * Stop taking sessions, let running ones finish, exit. With `handover` a newer generation
   * already listens on the same sockets (reload): stop accepting at once. Without it (shutdown)
   * new connections get 421 until the running sessions have ended.
   */
  | { readonly type: 'drain'; readonly handover?: boolean };

export type ToPrimary =
  /** Sent once the worker's IPC handler is installed (ESM loading is async: earlier messages would be lost). */
  | { readonly type: 'hello' }
  | { readonly type: 'listening' }
  /** Something was queued: the queue manager should look for due entries. */
  | { readonly type: 'queued' }
  /** A spool segment this receiver will not append to again. */
  | { readonly type: 'sealed'; readonly segment: string }
  | { readonly type: 'fatal'; readonly error: string };

export function isToPrimary(m: unknown): m is ToPrimary {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
