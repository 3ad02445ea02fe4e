/*
 * policy/checks/greylist.ts — greylisting of the doubtful, not of everyone (like rspamd).
 *
 * Where: at RCPT (this check) for clients whose network has a bad reputation ('bad') or no good
 * one ('unknown'), per greylisting.atRcpt; and after DATA (data-stage.ts) for mail whose content
 * score reaches greylisting.dataScore without being DKIM/DMARC-aligned. Never: outbound mail,
 * authenticated or trusted sessions, greylisting.skipClients, mail the access lists allow
 * (policy/access.ts), clients or sender domains of good reputation. Triplets are (client network /24 or /64, envelope sender, recipient) in LMDB
 * (state/greylist.ts); the answer while waiting is 451 4.7.1 GREYLISTED. Runs in receiver workers.
 */
import type { Config } from '../../config/index.js';
import type { Decision, Hit, Session } from '../../core/index.js';
import { inNetworks, networkList } from '../../core/index.js';
import { GreylistStore, maskedNetwork, policyStores, type GreylistResult, type PolicyStores } from '../../state/index.js';
import { defineCheck } from '../check.js';
import { then, type Maybe } from '../maybe.js';
import { splitAddress } from '../address.js';
import { clientKey, look, senderDomainKey } from './reputation-view.js';
import { accessVerdict } from '../access.js';
import { isAllowListed } from '../session-state.js';

function skipped(config: Config, ip: string): boolean {
  const entries = config.greylisting.skipClients;
  return entries.length > 0 && inNetworks(networkList(entries), ip);
}

/** Whether greylisting may apply to this session at all. */
export function greylistable(config: Config, session: Session): boolean {
  return config.greylisting.enabled && session.direction === 'inbound' && session.trustedBy === null && !skipped(config, session.clientIp)
    && !isAllowListed(session);
}

/** Does the client network or sender domain have a good reputation? (then never greylisted) */
export function goodReputation(stores: PolicyStores, config: Config, session: Session, mailFrom: string): boolean {
  if (!config.reputation.enabled) return false;
  const from = senderDomainKey(mailFrom);
  return look(stores.reputation, config, 'ip', clientKey(config, session.clientIp), Date.now(), session).cls === 'good'
    || (from !== null && look(stores.reputation, config, 'from', from, Date.now(), session).cls === 'good');
}

/** Judge the triplets of these recipients; the decision plus one hit. */
export function greylistDecision(stores: PolicyStores, config: Config, session: Session, mailFrom: string, recipients: readonly string[], why: string, now = Date.now()): Decision {
  const g = config.greylisting;
  const net = maskedNetwork(session.clientIp, g.ipv4Prefix, g.ipv6Prefix);
  const results = stores.greylist.check(recipients.map((r) => GreylistStore.triplet(net, mailFrom, r)), g, now);
  const waiting = results.find((r): r is 'new' | 'early' => r === 'new' || r === 'early');
  if (waiting) {
    const hit: Hit = { name: waiting === 'new' ? 'GREYLIST_NEW' : 'GREYLIST_EARLY', score: 0, detail: `${net} ${why}` };
    return { action: 'defer', reply: 'GREYLISTED', hits: [hit] };
  }
  return { action: 'accept', hits: [{ name: results.includes('passed' as GreylistResult) ? 'GREYLIST_PASSED' : 'GREYLIST_KNOWN', score: 0, detail: net }] };
}

export const greylist = defineCheck({
  name: 'greylist',
  phase: 'rcpt',
  timeoutMs: 1000,
  run(ctx): Maybe<Decision | Hit[]> {
    const { config, session, envelope, recipient, state } = ctx;
    if (!state || !recipient || config.greylisting.atRcpt === 'off' || !greylistable(config, session)) return [];
    // Checks of a phase run side by side: no triplet for a recipient relay_access refuses.
    const domain = splitAddress(recipient)?.domain;
    if (!domain || !Object.hasOwn(config.domains, domain)) return [];
    // The access lists run beside this check (same phase); their answer is memoised per transaction.
    return then(accessVerdict({ ...ctx, recipient }), (v): Decision | Hit[] => {
      if (v.action === 'allow') return [];
      const stores = policyStores(state);
      const rep = config.reputation.enabled ? look(stores.reputation, config, 'ip', clientKey(config, session.clientIp), Date.now(), session).cls : 'unknown';
      if (rep === 'good' || goodReputation(stores, config, session, envelope.mailFrom)) return [];
      if (rep !== 'bad' && config.greylisting.atRcpt === 'bad') return [];
      return greylistDecision(stores, config, session, envelope.mailFrom, [recipient], `reputation ${rep}`);
    });
  },
});
