/*
 * policy/checks/client-ptr.ts — helo phase, i.e. at MAIL FROM (`policy.hygiene.checkPtr`, mx
 * listeners; the look-up started at connect, checks/prefetch.ts): a client
 * without a PTR record scores RDNS_NONE, one whose PTR name does not resolve back to it scores
 * RDNS_MISMATCH. Scores, never rejects: plenty of small legitimate senders lack FCrDNS. A DNS
 * failure gives no symbol.
 */
import type { Hit } from '../../core/index.js';
import { defineCheck } from '../check.js';
import { clientDns } from '../client-dns.js';
import { then, type Maybe } from '../maybe.js';
import { policyScores } from '../scores.js';

export const clientPtr = defineCheck({
  name: 'client_ptr',
  phase: 'helo',
  timeoutMs: 15_000,
  run({ config, session, resolve }): Maybe<Hit[]> {
    if (!config.policy.hygiene.checkPtr || session.kind !== 'mx') return [];
    return then(clientDns(session, resolve), (r) => {
      if (r.status === 'none') return [policyScores().hit('RDNS_NONE', session.clientIp)];
      if (r.status === 'mismatch') return [policyScores().hit('RDNS_MISMATCH', `${session.clientIp} -> ${r.names.join(',')}`)];
      return [];
    });
  },
});
