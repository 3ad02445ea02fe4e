/*
 * policy/checks/dnsbl.ts — connect phase, only with `policy.dnsbl.rejectAt: connect`: waits for
 * the client's summed DNSBL/DNSWL weight (policy/dnsbl.ts) and answers 554 5.7.1 instead of the
 * greeting when it reaches the threshold, unless a global client allow entry matches. The sum
 * becomes DNSBL_SUM (scored per point for the content score). Otherwise the look-up only starts
 * at connect (checks/prefetch.ts) and dnsbl_threshold uses it at RCPT. mx listeners only
 * (submission users on dial-up ranges are listed by design).
 */
import type { Decision } from '../../core/index.js';
import { accessOf, evaluateAccess } from '../access.js';
import { defineCheck } from '../check.js';
import { clientDns } from '../client-dns.js';
import { dnsblOf } from '../dnsbl.js';
import { policyScores } from '../scores.js';

export const dnsbl = defineCheck({
  name: 'dnsbl',
  phase: 'connect',
  timeoutMs: 15_000,
  async run({ config, session, resolve }): Promise<Decision> {
    const cfg = config.policy.dnsbl;
    if (cfg.zones.length === 0 || cfg.rejectAt !== 'connect' || session.kind !== 'mx') return { action: 'accept' };
    const r = await dnsblOf(session, cfg, resolve);
    const detail = [...r.listed, ...r.failed.map((f) => `failed ${f}`)].join(' ');
    const hits = r.sum !== 0 ? [{ name: 'DNSBL_SUM', score: r.sum * policyScores().score('DNSBL_SUM'), detail: `sum ${r.sum}: ${detail}` }] : [];
    if (r.sum >= cfg.threshold) {
      const access = accessOf(config);
      const ptr = access.needsPtr ? (await clientDns(session, resolve)).verified : null;
      const allowed = evaluateAccess({ ...access, users: new Map(), domains: new Map() }, { ip: session.clientIp, ptr, sender: '', recipient: '' }).action === 'allow';
      if (!allowed) return { action: 'reject', reply: 'DNSBL_REJECT', detail: `[${session.clientIp}] ${r.listed.join(' ')}`, hits };
    }
    return { action: 'accept', hits };
  },
});
