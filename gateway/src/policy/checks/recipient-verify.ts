/*
 * policy/checks/recipient-verify.ts — rcpt phase: refuse unknown users during the session
 * (550 5.1.1), so nothing is accepted that would later bounce (no backscatter). Per relay domain
 * in `policy.recipientVerification.domains`: `static` (the configured list/file) or `callout`
 * (ask the domain's route next hops, policy/callout.ts; answers cached with TTLs per process).
 * An internal server that cannot be asked → 450 4.4.1, the client retries (fail safe).
 * Domains not listed, and trusted (outbound) sessions, are not verified.
 */
import type { Config } from '../../config/index.js';
import type { Decision } from '../../core/index.js';
import { splitAddress } from '../address.js';
import { CalloutCache, probeHosts } from '../callout.js';
import { defineCheck } from '../check.js';
import type { Maybe } from '../maybe.js';
import { staticRecipients } from '../recipients.js';

let cache: { cfg: Config['policy']['recipientVerification']; cache: CalloutCache } | null = null;

/** The process's callout cache (a new one when the settings changed, e.g. after a reload). */
export function calloutCache(config: Config): CalloutCache {
  const cfg = config.policy.recipientVerification;
  if (!cache || cache.cfg !== cfg) {
    cache = { cfg, cache: new CalloutCache({ positiveTtlMs: cfg.positiveTtlMs, negativeTtlMs: cfg.negativeTtlMs, maxEntries: cfg.cacheMaxEntries }) };
  }
  return cache.cache;
}

export const recipientVerify = defineCheck({
  name: 'recipient_verify',
  phase: 'rcpt',
  timeoutMs: 60_000,
  run({ config, session, recipient }): Maybe<Decision> {
    if (session.trustedBy !== null || !recipient || recipient.toLowerCase() === 'postmaster') return { action: 'accept' };
    const parsed = splitAddress(recipient);
    if (!parsed) return { action: 'accept' };
    const cfg = config.policy.recipientVerification;
    const domainCfg = cfg.domains[parsed.domain];
    if (!domainCfg) return { action: 'accept' };
    const address = `${parsed.local}@${parsed.domain}`.toLowerCase();
    if (domainCfg.method === 'static') {
      return staticRecipients(config, parsed.domain).has(address) ? { action: 'accept' } : { action: 'reject', reply: 'UNKNOWN_RECIPIENT', detail: `<${recipient}>` };
    }
    const route = config.domains[parsed.domain]?.route;
    if (route?.transport !== 'smtp') return { action: 'accept' };
    return calloutCache(config).lookup(address, () => probeHosts(route.hosts, `${parsed.local}@${parsed.domain}`, { helo: config.hostname, timeoutMs: cfg.timeoutMs })).then((r): Decision => {
      if (r.status === 'accept') return { action: 'accept' };
      if (r.status === 'reject') return { action: 'reject', reply: 'UNKNOWN_RECIPIENT', detail: `<${recipient}>` };
      return { action: 'defer', reply: 'RECIPIENT_VERIFY_TEMPFAIL', detail: `<${recipient}>` };
    });
  },
});
