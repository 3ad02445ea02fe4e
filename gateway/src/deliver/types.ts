/*
 * deliver/types.ts — the contract between the queue manager (queue/) and the transports.
 *
 * The queue manager groups a message's pending recipients by route, opens the outgoing body
 * (header edits + spool file) and calls a transport; a transport never throws for a delivery
 * problem: it returns one DeliveryOutcome per recipient (delivered / deferred / bounced).
 * Runs in the primary process only.
 */
import type { Readable } from 'node:stream';
import type { DeliveryOutcome, QueueEntry } from '../core/index.js';
import type { TlsPolicy } from '../config/index.js';

/** Where a recipient's mail goes. `key` names the destination for concurrency limits and logs. */
export type Route =
  | { readonly kind: 'smtp'; readonly key: string; readonly hosts: readonly string[]; readonly tls: TlsPolicy; readonly auth?: { readonly user: string; readonly passwordFile: string } }
  | { readonly kind: 'mx'; readonly key: string; readonly domain: string; readonly tls: TlsPolicy }
  | { readonly kind: 'maildir'; readonly key: string; readonly path: string };

export interface DeliveryJob {
  readonly entry: QueueEntry;
  /** Recipients of this job; all share `route`. */
  readonly recipients: readonly string[];
  readonly route: Route;
  /** Opens the message as it goes out (our header edits, then the spool file). May be called more than once (failover). */
  readonly openBody: () => Readable;
}

export interface Transport {
  /** One outcome per job recipient, in any order. Never rejects for delivery failures. */
  deliver(job: DeliveryJob): Promise<DeliveryOutcome[]>;
  close(): Promise<void>;
}
