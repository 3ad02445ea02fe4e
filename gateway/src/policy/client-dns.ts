/*
 * policy/client-dns.ts — the client's reverse DNS, forward-confirmed (FCrDNS), once per session.
 *
 * PTR names of the client address, then A/AAAA of up to three of them: the first name that
 * resolves back to the address is the verified name (what access-list PTR patterns match, so a
 * client cannot claim any name by controlling its own reverse zone). Through the one dns/
 * resolver (PTR via the ip6.arpa/in-addr.arpa name, so answers share its cache).
 */
import { isIP } from 'node:net';
import type { Session } from '../core/index.js';
import { reverseName, type ResolveFn } from '../dns/index.js';
import type { Maybe } from './maybe.js';
import { recentResults } from './recent-results.js';
import { sessionMemo } from './session-state.js';

export interface ClientDns {
  /** 'none': NXDOMAIN/NODATA; 'error': the lookup failed (timeout, SERVFAIL): no conclusion. */
  readonly status: 'verified' | 'mismatch' | 'none' | 'error';
  readonly names: readonly string[];
  /** The forward-confirmed name, lower case without the final dot, else null. */
  readonly verified: string | null;
}

const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA']);

/** Results per address, reused for 30 s by this process (as DNSBL results); errors are not kept. */
const recent = recentResults<ClientDns>({ ttlMs: 30_000, max: 20_000, keep: (r) => r.status !== 'error' });

export function clientDns(session: Session, resolve: ResolveFn): Maybe<ClientDns> {
  return sessionMemo(session, 'client-dns', () => recent.get(session.clientIp, () => lookupClient(session.clientIp, resolve)));
}

export async function lookupClient(ip: string, resolve: ResolveFn): Promise<ClientDns> {
  const rev = reverseName(ip);
  if (!rev) return { status: 'none', names: [], verified: null };
  let names: string[];
  try {
    names = (await resolve(rev, 'PTR')).map((n) => n.toLowerCase().replace(/\.$/, ''));
  } catch (err) {
    return { status: NEGATIVE.has((err as { code?: string }).code ?? '') ? 'none' : 'error', names: [], verified: null };
  }
  if (names.length === 0) return { status: 'none', names, verified: null };
  const family = isIP(ip);
  const want = ip.toLowerCase();
  let errors = 0;
  for (const name of names.slice(0, 3)) {
    try {
      const addrs = await resolve(name, family === 6 ? 'AAAA' : 'A');
      if (addrs.some((a) => a.toLowerCase() === want)) return { status: 'verified', names, verified: name };
    } catch (err) {
      if (!NEGATIVE.has((err as { code?: string }).code ?? '')) errors++;
    }
  }
  return { status: errors > 0 ? 'error' : 'mismatch', names, verified: null };
}
