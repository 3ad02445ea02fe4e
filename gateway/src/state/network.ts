/*
 * state/network.ts — the network a client address is judged by: IPv4 /24 and IPv6 /64 by
 * default (one mail farm, one customer allocation), so neighbours share a reputation and a
 * greylist triplet. Pure functions; node:net BlockList-free because we need the masked text.
 */
import { isIPv4, isIPv6 } from 'node:net';

const memo = new Map<string, string>();
const MEMO_MAX = 10_000;

/** "192.0.2.77" /24 → "192.0.2.0/24"; "2001:db8:1:2:3::9" /64 → "2001:db8:1:2::/64". */
export function maskedNetwork(ip: string, v4Bits = 24, v6Bits = 64): string {
  // Asked several times per message (reputation, greylisting) for the same few clients.
  const key = `${ip}/${v4Bits}/${v6Bits}`;
  let net = memo.get(key);
  if (net === undefined) {
    net = computeMaskedNetwork(ip, v4Bits, v6Bits);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(key, net);
  }
  return net;
}

function computeMaskedNetwork(ip: string, v4Bits: number, v6Bits: number): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const addr = mapped ? mapped[1]! : ip;
  if (isIPv4(addr)) {
    const n = addr.split('.').reduce((acc, o) => (acc * 256) + Number(o), 0);
    const masked = v4Bits === 0 ? 0 : Math.floor(n / 2 ** (32 - v4Bits)) * 2 ** (32 - v4Bits);
    const octets = [24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256);
    return `${octets.join('.')}/${v4Bits}`;
  }
  if (isIPv6(addr)) {
    const groups = expandIPv6(addr);
    const out: number[] = [];
    for (let i = 0; i < 8; i++) {
      const keep = Math.max(0, Math.min(16, v6Bits - i * 16));
      const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
      out.push(groups[i]! & mask);
    }
    return `${compressIPv6(out)}/${v6Bits}`;
  }
  throw new Error(`not an IP address: ${ip}`);
}

function expandIPv6(addr: string): number[] {
  let text = addr.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4 forms other than the mapped one above).
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...zeros, ...t].map((g) => parseInt(g, 16));
}

function compressIPv6(groups: number[]): string {
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
