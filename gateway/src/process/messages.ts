/*
 * process/messages.ts — the IPC vocabulary between the primary and receiver workers.
 * Small and typed; anything else arriving on the channel is ignored.
 */
import type { Config } from '../config/index.js';

export type ToWorker =
  | { readonly type: 'start'; readonly config: Config; readonly generation: number }
  | { readonly type: 'drain' };

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
