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
import { dnsblHits, dnsblOf } from '../dnsbl.js';
import { then, type Maybe } from '../maybe.js';

export const dnsbl = defineCheck({
  name: 'dnsbl',
  phase: 'connect',
  timeoutMs: 15_000,
  run({ config, session, resolve }): Maybe<Decision> {
    const cfg = config.policy.dnsbl;
    if (cfg.zones.length === 0 || cfg.rejectAt !== 'connect' || session.kind !== 'mx') return { action: 'accept' };
    return then(dnsblOf(session, cfg, resolve), (r) => {
      const hits = dnsblHits(r);
      if (r.sum < cfg.threshold) return { action: 'accept', hits };
      const access = accessOf(config);
      const judge = (ptr: string | null): Decision => {
        const allowed = evaluateAccess({ ...access, users: new Map(), domains: new Map() }, { ip: session.clientIp, ptr, sender: '', recipient: '' }).action === 'allow';
        return allowed ? { action: 'accept', hits } : { action: 'reject', reply: 'DNSBL_REJECT', detail: `[${session.clientIp}] ${r.listed.join(' ')}`, hits };
      };
      return access.needsPtr ? then(clientDns(session, resolve), (d) => judge(d.verified)) : judge(null);
    });
  },
});
