/*
 * deliver/router.ts — which route a recipient takes (Postfix's transport(5) lookup, from config).
 *
 * recipient address → Route. A domain listed in config.domains (matched exactly, case-folded,
 * IDNs compared in their A-label form) takes that domain's route: its smtp next hops or its
 * maildir. Every other domain goes outbound: by MX lookup with the domain's TLS policy override
 * or the outbound default, or to the smarthost. Equal destinations have one `key` — the unit of
 * grouping, concurrency and session reuse.
 * An address without a domain (RFC 5321 "postmaster") is taken as ours: config.hostname.
 * It does not look anything up and does not check addresses. Runs in the primary (delivery).
 */
import { domainToASCII } from 'node:url';
import type { Config, RouteConfig } from '../config/index.js';
import type { Route } from './types.js';
import { hostPortKey, parseHostPort, SMTP_DEFAULT_PORT } from './next-hop.js';

export interface Router {
  routeFor(recipient: string): Route;
}

export function createRouter(config: Config): Router {
  const local = new Map<string, Route>();
  for (const [domain, { route }] of Object.entries(config.domains)) local.set(asciiDomain(domain), fromConfig(route));
  const smarthost: Route = Object.freeze({
    kind: 'smtp', key: smtpKey(config.outbound.hosts), hosts: Object.freeze([...config.outbound.hosts]), tls: config.outbound.tls,
  });

  return {
    routeFor(recipient: string): Route {
      const domain = asciiDomain(domainOf(recipient) ?? config.hostname);
      const mine = local.get(domain);
      if (mine) return mine;
      if (config.outbound.mode === 'smarthost') return smarthost;
      return Object.freeze({ kind: 'mx', key: `mx:${domain}`, domain, tls: config.outbound.tlsPolicy[domain] ?? config.outbound.tls });
    },
  };
}

function fromConfig(route: RouteConfig): Route {
  if (route.transport === 'maildir') return Object.freeze({ kind: 'maildir', key: `maildir:${route.path}`, path: route.path });
  return Object.freeze({
    kind: 'smtp',
    key: smtpKey(route.hosts),
    hosts: Object.freeze([...route.hosts]),
    tls: route.tls,
    ...(route.auth ? { auth: Object.freeze({ ...route.auth }) } : {}),
  });
}

/** "smtp:[127.0.0.1]:2526" or "smtp:a.example:25,b.example:25". */
function smtpKey(hosts: readonly string[]): string {
  return `smtp:${hosts.map((h) => hostPortKey(parseHostPort(h, SMTP_DEFAULT_PORT))).join(',')}`;
}

function domainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  return at === -1 ? null : address.slice(at + 1);
}

/** Lower-case A-label form; a name node cannot convert is kept as typed (it will not match or resolve). */
function asciiDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  return domainToASCII(d) || d;
}
