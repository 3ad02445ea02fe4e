/*
 * deliver/outcomes.ts — outcomes that apply to every recipient of a job (a DNS answer, a next hop
 * that cannot be reached, a job handed to the wrong transport).
 *
 * job + status/code/text → one DeliveryOutcome per recipient. Pure; used by every transport.
 * Runs in the primary (delivery).
 */
import type { DeliveryOutcome } from '../core/index.js';
import type { DeliveryJob } from './types.js';

export function forAll(job: DeliveryJob, status: DeliveryOutcome['status'], dsn: string, response: string, relay: string): DeliveryOutcome[] {
  return job.recipients.map((recipient) => ({ recipient, status, dsn, response, relay }));
}

/** A job handed to the wrong transport is a bug upstream: defer, so nothing is lost or bounced. */
export function misrouted(job: DeliveryJob): DeliveryOutcome[] {
  return forAll(job, 'deferred', '4.3.5', `internal error: route ${job.route.key} handed to the wrong transport`, job.route.key);
}
