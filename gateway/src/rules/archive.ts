/*
 * rules/archive.ts — archive-all (journaling): every accepted message, inbound and outbound,
 * gets one more envelope recipient, the archive address configured for its direction or for the
 * organisation's domain involved (recipient domains inbound, the sender domain outbound).
 *
 * Chosen design: an extra recipient, not a side copy. It rides in the same queue entry (one
 * spool file, one durable commit, the same 250), so a journal copy is never lost nor made for a
 * message we did not accept; it is delivered by its own route (config `domains`: a maildir or an
 * internal journal server; otherwise outbound), retried and bounced to the postmaster on its
 * own, without affecting delivery to the real recipients. The copy is the message as delivered
 * (after the verdict's header edits and body transforms). Runs in receiver workers.
 */
import type { Config } from '../config/index.js';
import type { Direction } from '../core/index.js';
import { domainOf } from './match.js';

/** Archive addresses for one message (deduplicated, lower case). */
export function archiveRecipients(config: Config, direction: Direction, mailFrom: string, recipients: readonly string[]): string[] {
  const a = config.archive;
  const out = new Set<string>();
  const byDir = direction === 'inbound' ? a.inbound : a.outbound;
  if (byDir) out.add(byDir.toLowerCase());
  const domains = direction === 'inbound' ? recipients.map(domainOf) : [domainOf(mailFrom)];
  for (const d of domains) {
    const to = a.domains[d];
    if (to && (!to.direction || to.direction === direction)) out.add(to.address.toLowerCase());
  }
  return [...out];
}

/** Every configured archive address: mail from outside must never be addressed to one. */
export function isArchiveAddress(config: Config, address: string): boolean {
  const a = address.toLowerCase();
  const c = config.archive;
  return a === c.inbound?.toLowerCase() || a === c.outbound?.toLowerCase() || Object.values(c.domains).some((d) => d.address.toLowerCase() === a);
}
