/*
 * admin/backend.ts — the contract between the admin API and the daemon's queue manager.
 *
 * The primary process implements AdminBackend (queue/ owns the data); admin/server.ts only maps
 * HTTP to these calls and back, so the API can be tested with a fake. Input: an admin request;
 * output: plain JSON-able data. Does not: decide policy (what "hold" means is the queue
 * manager's), cache anything, or carry message bodies — a QueueEntry is the envelope and
 * per-recipient state only.
 * Runs in the primary process.
 */
import type { ListenerKind, QueueEntry, QueueState } from '../core/index.js';
import type { TraceEvent } from '../state/index.js';
import type { QuarantineAdmin } from '../quarantine/index.js';
import type { PolicyStateAdmin } from './policy-state-routes.js';

export interface ListenerStatus {
  readonly name: string;
  readonly kind: ListenerKind;
  readonly address: string;
  readonly port: number;
  readonly tls: 'starttls' | 'implicit' | 'none';
}

export interface WorkerStatus {
  /** node:cluster worker id. */
  readonly id: number;
  readonly pid: number;
  /** True once the worker reported that its listeners are up. */
  readonly listening: boolean;
}

export interface StatusInfo {
  readonly version: string;
  readonly pid: number;
  /** Epoch ms the primary process started. */
  readonly startedAt: number;
  readonly uptimeMs: number;
  readonly workers: readonly WorkerStatus[];
  readonly listeners: readonly ListenerStatus[];
  /** Messages per queue place. */
  readonly queue: Readonly<Record<QueueState, number>>;
}

/** A recipient that has no final outcome yet, with the last thing its next hop said. */
export interface PendingRecipient {
  readonly address: string;
  readonly lastResponse: string | null;
}

/** One line of `tuxhat queue list`: what postqueue -p shows, plus state and retry timing. */
export interface QueueSummary {
  readonly qid: string;
  readonly state: QueueState;
  /** Envelope sender; '' for the null sender <>. */
  readonly mailFrom: string;
  readonly size: number;
  readonly receivedAt: number;
  readonly nextAttemptAt: number;
  readonly attempts: number;
  readonly recipientCount: number;
  readonly pending: readonly PendingRecipient[];
  /** The most telling last response across recipients (first pending one with a response). */
  readonly lastResponse: string | null;
}

export type ReloadResult = { ok: true } | { ok: false; error: string };

export interface AdminBackend {
  status(): Promise<StatusInfo>;
  /** Every entry, or those in one state; oldest first. */
  queueList(opts: { state?: QueueState }): Promise<QueueSummary[]>;
  queueShow(qid: string): Promise<QueueEntry | null>;
  /** Make one entry (or every deferred entry) due now; returns how many were made due. */
  queueFlush(qid?: string): Promise<number>;
  /** false when the entry does not exist or cannot move (e.g. already on hold). */
  queueHold(qid: string): Promise<boolean>;
  queueRelease(qid: string): Promise<boolean>;
  queueDelete(qid: string): Promise<boolean>;
  /** The message's story, oldest first; empty when nothing is known of the qid. */
  trace(qid: string): Promise<TraceEvent[]>;
  reload(): Promise<ReloadResult>;
  /** Prometheus text exposition format 0.0.4. */
  metrics(): Promise<string>;
  /** The quarantine (quarantine/release.ts); absent: the /quarantine routes answer 404. */
  readonly quarantine?: QuarantineAdmin;
  /** Reputation and greylist (issue 5); absent: those routes answer 404. */
  readonly policyState?: PolicyStateAdmin;
}

/** The summary of an entry, for backends that keep whole entries (queue/ can use this as is). */
export function summarize(entry: QueueEntry): QueueSummary {
  const pending = entry.recipients
    .filter((r) => r.state === 'pending')
    .map((r) => ({ address: r.address, lastResponse: r.lastResponse ?? null }));
  return {
    qid: entry.qid,
    state: entry.state,
    mailFrom: entry.mailFrom,
    size: entry.size,
    receivedAt: entry.receivedAt,
    nextAttemptAt: entry.nextAttemptAt,
    attempts: entry.attempts,
    recipientCount: entry.recipients.length,
    pending,
    lastResponse: pending.find((r) => r.lastResponse !== null)?.lastResponse ?? null,
  };
}
