/*
 * deliver/smtp-transport.ts — the `smtp` transport: mail for a route's configured next hops
 * (internal servers per relay domain, or the outbound smarthost).
 *
 * DeliveryJob with an smtp route → one DeliveryOutcome per recipient. Hosts are tried in the
 * configured order (failover), each name's addresses in turn, resolved through dns/ (no MX
 * lookup: a configured next hop is a host, like Postfix's [host]). The default port is 25. A name
 * that does not resolve is skipped; when nothing is left the recipients are deferred, never
 * bounced, because an internal next hop that does not resolve is our misconfiguration or a DNS
 * outage, not the recipient's fault. Runs in the primary (delivery).
 */
import type { DeliveryOutcome } from '../core/index.js';
import type { DnsResolver } from '../dns/index.js';
import type { DeliveryJob, Transport } from './types.js';
import { parseHostPort, resolveAddresses, SMTP_DEFAULT_PORT, type Hop } from './next-hop.js';
import { forAll, misrouted } from './outcomes.js';
import type { SmtpClient } from './smtp-client.js';

export function createSmtpTransport(client: SmtpClient, resolver: DnsResolver): Transport {
  return {
    async deliver(job: DeliveryJob): Promise<DeliveryOutcome[]> {
      const route = job.route;
      if (route.kind !== 'smtp') return misrouted(job);
      const hops: Hop[] = [];
      let lastDnsError = `no next hop configured for ${route.key}`;
      for (const text of route.hosts) {
        const { host, port } = parseHostPort(text, SMTP_DEFAULT_PORT);
        const found = await resolveAddresses(resolver, host);
        if (!found.ok) {
          lastDnsError = found.text;
          continue;
        }
        for (const ip of found.addresses) hops.push({ name: host, ip, port, ...(ip === host ? {} : { servername: host }) });
      }
      if (hops.length === 0) {
        return forAll(job, 'deferred', '4.4.3', lastDnsError, route.key);
      }
      return client.deliver(job, { key: route.key, hops, tls: route.tls, auth: route.auth });
    },
    async close() {
      // The shared client (and its sessions) is closed by createTransports().close().
    },
  };
}
