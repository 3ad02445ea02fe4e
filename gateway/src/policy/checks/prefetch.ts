/*
 * policy/checks/prefetch.ts — connect phase, mx listeners: start the client's DNSBL and reverse
 * DNS look-ups without waiting for them, so the 220 greeting is not delayed by DNS (like
 * postscreen, which queries the lists while the client is being greeted). The checks that need
 * the answers (dnsbl_threshold at RCPT, client_ptr and helo at MAIL, access lists) await the
 * same memoised promises later; by then they are usually complete. With
 * `policy.dnsbl.rejectAt: connect` the dnsbl check waits at connect instead.
 */
import { accessOf } from '../access.js';
import { defineCheck } from '../check.js';
import { clientDns } from '../client-dns.js';
import { dnsblOf } from '../dnsbl.js';
import { isPromise, type Maybe } from '../maybe.js';

const quiet = (v: Maybe<unknown>): void => { if (isPromise(v)) v.catch(() => undefined); };

export const prefetch = defineCheck({
  name: 'prefetch',
  phase: 'connect',
  timeoutMs: 1000,
  run({ config, session, resolve }) {
    if (session.kind !== 'mx') return [];
    const p = config.policy;
    // Both never reject (failures are part of their result); the catch is belt and braces.
    if (p.dnsbl.zones.length > 0) quiet(dnsblOf(session, p.dnsbl, resolve));
    if (p.hygiene.checkPtr || accessOf(config).needsPtr) quiet(clientDns(session, resolve));
    return [];
  },
});
