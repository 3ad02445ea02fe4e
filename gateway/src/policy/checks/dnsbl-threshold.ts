/*
 * policy/checks/dnsbl-threshold.ts — rcpt phase (`policy.dnsbl.rejectAt: rcpt`, the default): a
 * client whose DNSBL sum reached the threshold is refused 554 5.7.1 per recipient, unless an
 * access-list allow entry for this recipient (user, domain or global level) matches. The sum
 * itself was recorded as DNSBL_SUM at connect (checks/dnsbl.ts); the look-up is not repeated.
 */
import type { Decision } from '../../core/index.js';
import { accessVerdict } from '../access.js';
import { defineCheck } from '../check.js';
import { dnsblOf } from '../dnsbl.js';

export const dnsblThreshold = defineCheck({
  name: 'dnsbl_threshold',
  phase: 'rcpt',
  timeoutMs: 15_000,
  async run(ctx): Promise<Decision> {
    const cfg = ctx.config.policy.dnsbl;
    if (cfg.zones.length === 0 || cfg.rejectAt !== 'rcpt' || ctx.session.kind !== 'mx') return { action: 'accept' };
    if (ctx.recipient?.toLowerCase() === 'postmaster') return { action: 'accept' };
    const r = await dnsblOf(ctx.session, cfg, ctx.resolve);
    if (r.sum < cfg.threshold) return { action: 'accept' };
    if ((await accessVerdict(ctx)).action === 'allow') return { action: 'accept' };
    return { action: 'reject', reply: 'DNSBL_REJECT', detail: `[${ctx.session.clientIp}] ${r.listed.join(' ')}` };
  },
});
