/*
 * deliver/next-hop.ts — next-hop names: parsing "host[:port]" / "[ip]:port", naming them for route
 * keys and logs, and turning a host name into addresses through the dns/ resolver.
 *
 * config host string → { host, port }; host name → IP addresses or a Postfix-style failure.
 * Every name is resolved through dns/ (A, then AAAA; IPv4 first because internal next hops and
 * test peers listen there, and the order is stable); only "localhost" is answered here (RFC 6761
 * §6.3), since the DNS resolver does not read /etc/hosts. No MX lookups (that is mx-transport).
 * Runs in the primary (delivery).
 */
import { isIP } from 'node:net';
import type { DnsResolver } from '../dns/index.js';

/** Port of a configured next hop written without one (RFC 5321 §4.5.4.2: SMTP is port 25). */
export const SMTP_DEFAULT_PORT = 25;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** One address to connect to; `name` is what we were asked for (MX or configured host). */
export interface Hop {
  readonly name: string;
  readonly ip: string;
  readonly port: number;
  /** TLS server name to present and verify ('verify' policy); absent for IP literals. */
  readonly servername?: string;
}

export function parseHostPort(text: string, defaultPort: number): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const host = (m?.[1] ?? m?.[2] ?? text.trim()).toLowerCase();
  const port = m?.[3] !== undefined ? Number(m[3]) : defaultPort;
  return { host, port };
}

/** "[192.0.2.1]:25" for IP literals (Postfix's notation), "mail.example:25" for names. */
export function hostPortKey(hp: HostPort): string {
  return isIP(hp.host) ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** "mx.example[192.0.2.1]:25" — what we log as `relay`. */
export function relayName(hop: Hop): string {
  return `${hop.name}[${hop.ip}]:${hop.port}`;
}

/** "mx.example[192.0.2.1]" — the host as Postfix names it in reply texts. */
export function hostAndIp(hop: Hop): string {
  return `${hop.name}[${hop.ip}]`;
}

export type AddressResult =
  | { readonly ok: true; readonly addresses: readonly string[] }
  /** notFound: the name has no A/AAAA (final); otherwise a temporary DNS failure. */
  | { readonly ok: false; readonly notFound: boolean; readonly text: string };

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA']);

export async function resolveAddresses(resolver: DnsResolver, name: string): Promise<AddressResult> {
  if (isIP(name)) return { ok: true, addresses: [name] };
  if (name === 'localhost') return { ok: true, addresses: ['127.0.0.1', '::1'] };
  const [v4, v6] = await Promise.allSettled([resolver.a(name), resolver.aaaa(name)]);
  const addresses = [
    ...(v4.status === 'fulfilled' ? v4.value : []),
    ...(v6.status === 'fulfilled' ? v6.value : []),
  ];
  if (addresses.length > 0) return { ok: true, addresses };
  const codes = [v4, v6].map((r) => (r.status === 'rejected' ? String((r.reason as { code?: unknown }).code ?? 'EUNKNOWN') : 'ENODATA'));
  const notFound = codes.every((c) => NOT_FOUND.has(c));
  const nx = codes.includes('ENOTFOUND');
  const text = notFound
    ? `Host or domain name not found. Name service error for name=${name} type=${nx ? 'A' : 'AAAA'}: ${nx ? 'Host not found' : 'Host found but no data record of requested type'}`
    : `Host or domain name not found. Name service error for name=${name} type=A: Host not found, try again (${codes.join('/')})`;
  return { ok: false, notFound, text };
}
