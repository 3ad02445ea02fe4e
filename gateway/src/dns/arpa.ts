/*
 * dns/arpa.ts — the reverse-lookup name of an IP address (RFC 1035 §3.5 in-addr.arpa, RFC 3596 §2.5
 * ip6.arpa).
 *
 * IP string → "4.3.2.1.in-addr.arpa" / 32 nibbles + "ip6.arpa", or null when the string is not an IP.
 * An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is looked up as its IPv4 address, because that is
 * where its PTR record lives. Pure; runs in any process. Building the name ourselves (instead of
 * dns.reverse) lets PTR answers go through the same cache as every other record type.
 */
import { isIP } from 'node:net';

export function reverseName(ip: string): string | null {
  const family = isIP(ip);
  if (family === 4) return ipv4Reverse(ip);
  if (family !== 6) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return ipv4Reverse(mapped[1]);
  const groups = expandIpv6(ip);
  const nibbles = groups.map((g) => g.toString(16).padStart(4, '0')).join('');
  return `${[...nibbles].reverse().join('.')}.ip6.arpa`;
}

function ipv4Reverse(ip: string): string {
  return `${ip.split('.').map(Number).reverse().join('.')}.in-addr.arpa`;
}

/** Eight 16-bit groups of a valid IPv6 address (already checked by isIP). */
function expandIpv6(ip: string): number[] {
  let text = ip.replace(/%.*$/, '');
  // An embedded IPv4 tail (::1.2.3.4, 64:ff9b::1.2.3.4) stands for the last two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(fill).fill('0'), ...right].map((g) => parseInt(g, 16));
}
