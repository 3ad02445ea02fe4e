/*
 * deliver/mx-transport.ts — the `mx` transport: mail to the internet by MX lookup (RFC 5321 §5.1).
 *
 * DeliveryJob with an mx route → one DeliveryOutcome per recipient. MX records come from dns/,
 * sorted by preference with equal preferences shuffled (load sharing, RFC 5321 §5.1); no MX →
 * the domain itself (implicit MX); a lone "." MX (RFC 7505 null MX) → bounced 5.1.10; NXDOMAIN →
 * bounced 5.1.2; any other DNS failure → deferred 4.4.3. Each MX host's addresses (A, then AAAA)
 * are tried in order on outbound.mxPort with the route's TLS policy, the MX name being the name
 * verified under 'verify'. No address for any MX host → bounced 5.4.4 when every lookup said so
 * for sure, deferred 4.4.3 when some lookup failed temporarily. Not done here: MTA-STS and DANE
 * (they will adjust the TLS policy before this), loop detection against our own addresses, and a
 * cap on the number of MX addresses tried (Postfix smtp_mx_address_limit). Runs in the primary.
 */
import type { MxRecord } from 'node:dns';
import type { Config } from '../config/index.js';
import type { DeliveryOutcome } from '../core/index.js';
import type { DnsResolver } from '../dns/index.js';
import type { DeliveryJob, Transport } from './types.js';
import { resolveAddresses, type Hop } from './next-hop.js';
import { forAll, misrouted } from './outcomes.js';
import type { SmtpClient } from './smtp-client.js';

export interface MxTransportOptions {
  /** Shuffle for equal preferences; tests pass a fixed one. */
  readonly random?: () => number;
}

type MxPlan =
  | { readonly ok: true; readonly hosts: readonly string[] }
  | { readonly ok: false; readonly status: 'deferred' | 'bounced'; readonly dsn: string; readonly text: string };

export function createMxTransport(config: Config, client: SmtpClient, resolver: DnsResolver, opts: MxTransportOptions = {}): Transport {
  const random = opts.random ?? Math.random;
  const port = config.outbound.mxPort;

  return {
    async deliver(job: DeliveryJob): Promise<DeliveryOutcome[]> {
      const route = job.route;
      if (route.kind !== 'mx') return misrouted(job);
      const fail = (status: 'deferred' | 'bounced', dsn: string, text: string): DeliveryOutcome[] => forAll(job, status, dsn, text, route.key);

      const plan = await mxHosts(resolver, route.domain, random);
      if (!plan.ok) return fail(plan.status, plan.dsn, plan.text);

      const hops: Hop[] = [];
      let tempFailure: string | null = null;
      let lastNotFound = '';
      for (const host of plan.hosts) {
        const found = await resolveAddresses(resolver, host);
        if (!found.ok) {
          if (found.notFound) lastNotFound = found.text;
          else tempFailure = found.text;
          continue;
        }
        for (const ip of found.addresses) hops.push({ name: host, ip, port, ...(ip === host ? {} : { servername: host }) });
      }
      if (hops.length === 0) {
        return tempFailure ? fail('deferred', '4.4.3', tempFailure) : fail('bounced', '5.4.4', lastNotFound);
      }
      return client.deliver(job, { key: route.key, hops, tls: route.tls });
    },
    async close() {
      // The shared client is closed by createTransports().close().
    },
  };
}

/** MX host names in the order to try them, or why there are none. */
export async function mxHosts(resolver: DnsResolver, domain: string, random: () => number = Math.random): Promise<MxPlan> {
  let records: MxRecord[];
  try {
    records = await resolver.mx(domain);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENODATA') return { ok: true, hosts: [domain] };
    if (code === 'ENOTFOUND') {
      return { ok: false, status: 'bounced', dsn: '5.1.2', text: `Host or domain name not found. Name service error for name=${domain} type=MX: Host not found` };
    }
    return { ok: false, status: 'deferred', dsn: '4.4.3', text: `Host or domain name not found. Name service error for name=${domain} type=MX: Host not found, try again (${String(code)})` };
  }
  const isNull = (r: MxRecord) => r.exchange === '' || r.exchange === '.';
  // RFC 7505 §3: a null MX must be alone; mixed with real ones it is ignored, not obeyed.
  const real = records.filter((r) => !isNull(r));
  if (real.length === 0) {
    if (records.length > 0) return { ok: false, status: 'bounced', dsn: '5.1.10', text: `Domain ${domain} does not accept mail (nullMX)` };
    return { ok: true, hosts: [domain] };
  }
  const keyed = real.map((r) => ({ r, tie: random() }));
  keyed.sort((x, y) => x.r.priority - y.r.priority || x.tie - y.tie);
  const hosts: string[] = [];
  for (const { r } of keyed) {
    const name = r.exchange.toLowerCase().replace(/\.$/, '');
    if (!hosts.includes(name)) hosts.push(name);
  }
  return { ok: true, hosts };
}
