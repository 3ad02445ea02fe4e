/*
 * deliver/ — transports and routing (ARCHITECTURE "Stages": QueueEntry → per-recipient outcome).
 *
 * createRouter(config) → routeFor(recipient): Route. createTransports(config, resolver, log) →
 * forRoute(route): Transport for smtp, mx and maildir routes, sharing one SMTP client (session
 * pool and connection limits) between smtp and mx; close() ends idle sessions. Transports never
 * throw for delivery failures and log per recipient only at debug: the queue manager logs the
 * delivered/deferred/bounced events. Runs in the primary process only.
 */
import type { Config } from '../config/index.js';
import type { DnsResolver } from '../dns/index.js';
import type { Logger } from '../log/index.js';
import { createMaildirTransport } from './maildir-transport.js';
import { createMxTransport } from './mx-transport.js';
import type { PoolStats } from './pool.js';
import { createSmtpClient } from './smtp-client.js';
import { createSmtpTransport } from './smtp-transport.js';
import type { Route, Transport } from './types.js';

export type { DeliveryJob, Route, Transport } from './types.js';
export { createRouter, type Router } from './router.js';
export type { PoolStats } from './pool.js';

export interface Transports {
  forRoute(route: Route): Transport;
  /** Open and idle outgoing SMTP sessions and jobs waiting for a slot, for metrics. */
  stats(): PoolStats;
  close(): Promise<void>;
}

export function createTransports(config: Config, resolver: DnsResolver, log: Logger): Transports {
  const dlog = log.child({ component: 'deliver' });
  const client = createSmtpClient(config, dlog);
  const byKind = {
    smtp: createSmtpTransport(client, resolver),
    mx: createMxTransport(config, client, resolver),
    maildir: createMaildirTransport(config, dlog),
  } as const satisfies Record<Route['kind'], Transport>;
  return {
    forRoute: (route) => byKind[route.kind],
    stats: () => client.stats(),
    async close() {
      await Promise.all(Object.values(byKind).map((t) => t.close()));
      await client.close();
    },
  };
}
