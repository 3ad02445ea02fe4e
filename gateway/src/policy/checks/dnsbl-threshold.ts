/*
 * policy/checks/dnsbl-threshold.ts — rcpt phase: the client's DNSBL sum (looked up once per
 * session, started at connect by checks/prefetch.ts) becomes DNSBL_SUM for the content score.
 * With `policy.dnsbl.rejectAt: rcpt` (the default) a sum at or above the threshold is refused
 * 554 5.7.1 per recipient, unless an access-list allow entry for this recipient (user, domain or
 * global level) matches. With `connect` the refusal happened already (checks/dnsbl.ts records
 * the hit there); with `never` only the symbol is added.
 */
import type { Decision } from '../../core/index.js';
import { accessVerdict } from '../access.js';
import { defineCheck } from '../check.js';
import { dnsblHits, dnsblOf } from '../dnsbl.js';
import { then, type Maybe } from '../maybe.js';

export const dnsblThreshold = defineCheck({
  name: 'dnsbl_threshold',
  phase: 'rcpt',
  timeoutMs: 15_000,
  run(ctx): Maybe<Decision> {
    const cfg = ctx.config.policy.dnsbl;
    if (cfg.zones.length === 0 || cfg.rejectAt === 'connect' || ctx.session.kind !== 'mx') return { action: 'accept' };
    if (ctx.recipient?.toLowerCase() === 'postmaster') return { action: 'accept' };
    return then(dnsblOf(ctx.session, cfg, ctx.resolve), (r) => {
      const hits = dnsblHits(r);
      if (cfg.rejectAt !== 'rcpt' || r.sum < cfg.threshold) return { action: 'accept', hits };
      return then(accessVerdict(ctx), (v): Decision => v.action === 'allow'
        ? { action: 'accept', hits }
        : { action: 'reject', reply: 'DNSBL_REJECT', detail: `[${ctx.session.clientIp}] ${r.listed.join(' ')}`, hits });
    });
  },
});
