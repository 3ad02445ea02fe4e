/*
 * verdict/class-of-service.ts — which spam thresholds apply to a message.
 *
 * A class of service (config `classes`) is a named set of thresholds per direction: tag,
 * quarantine, reject and a subject tag. Inbound mail is judged by its recipients' classes,
 * outbound mail by its sender's (the authenticated user, else the envelope sender). A user listed
 * in a class wins over a domain listed in one; everyone else gets `default`. A message has one
 * verdict however many recipients it has, so when its recipients fall in different classes the
 * most protective one applies: the lowest reject threshold, then quarantine, then tag (a
 * recipient who asked for strict filtering is not exposed by a lenient colleague on the Cc).
 * Pure: no I/O.
 */
import type { Config } from '../config/index.js';
import type { Direction } from '../core/index.js';

export interface SpamThresholds {
  readonly tag: number | null;
  readonly quarantine: number | null;
  readonly reject: number | null;
  readonly subjectTag: string;
}

export interface ClassOfService {
  readonly name: string;
  readonly thresholds: SpamThresholds;
  /** The class's DMARC enforcement, when it sets its own (config classes.<name>.dmarc). */
  readonly dmarc?: { readonly reject?: 'reject' | 'tag'; readonly quarantine?: 'tag' | 'quarantine' };
}

type Classes = Config['classes'];

/** The class of one address (user first, then domain, then default). */
export function classOf(classes: Classes, address: string): string {
  const a = address.toLowerCase();
  const domain = a.slice(a.lastIndexOf('@') + 1);
  for (const [name, c] of Object.entries(classes)) if (c.users.includes(a)) return name;
  for (const [name, c] of Object.entries(classes)) if (c.domains.includes(domain)) return name;
  return 'default';
}

const rank = (v: number | null) => (v === null ? Number.POSITIVE_INFINITY : v);

/** The class of service for a message: its recipients' (inbound) or its sender's (outbound). */
export function selectClass(classes: Classes, direction: Direction, who: { recipients: readonly string[]; sender: string; authUser?: string | null }): ClassOfService {
  const addresses = direction === 'inbound' ? who.recipients : [who.authUser && who.authUser.includes('@') ? who.authUser : who.sender];
  const names = [...new Set(addresses.filter((a) => a !== '').map((a) => classOf(classes, a)))];
  if (names.length === 0) names.push('default');
  const candidates = names.map((name) => ({ name, thresholds: classes[name]![direction], ...(classes[name]!.dmarc ? { dmarc: classes[name]!.dmarc } : {}) }));
  candidates.sort((x, y) => rank(x.thresholds.reject) - rank(y.thresholds.reject)
    || rank(x.thresholds.quarantine) - rank(y.thresholds.quarantine)
    || rank(x.thresholds.tag) - rank(y.thresholds.tag));
  return candidates[0]!;
}

export type SpamAction = 'deliver' | 'tag' | 'quarantine' | 'reject';

/** The action a score earns under thresholds (a threshold is reached at ≥). */
export function spamAction(score: number, t: SpamThresholds): SpamAction {
  if (t.reject !== null && score >= t.reject) return 'reject';
  if (t.quarantine !== null && score >= t.quarantine) return 'quarantine';
  if (t.tag !== null && score >= t.tag) return 'tag';
  return 'deliver';
}
