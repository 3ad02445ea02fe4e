/*
 * core/networks.ts — a list of addresses and CIDR networks from the config as one matcher.
 * node:net's BlockList matches both families (and IPv4-mapped IPv6, ::ffff:a.b.c.d, against
 * IPv4 entries) without hand-written bit maths. Every setting that names networks uses this.
 */
import { BlockList, isIP } from 'node:net';

/** Add an address or CIDR (a.b.c.d, a.b.c.d/n, x::y/n) to a list; false when it is neither. */
export function addNetwork(list: BlockList, entry: string): boolean {
  const [ip, bits, extra] = entry.split('/');
  const family = isIP(ip ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) list.addAddress(ip!, family === 6 ? 'ipv6' : 'ipv4');
  else list.addSubnet(ip!, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
  return true;
}

/** Is the address (either family) in the list? Not an address at all: false. */
export function inNetworks(list: BlockList, ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

/** Config lists are frozen arrays: one BlockList per array, built on first use. */
const lists = new WeakMap<readonly string[], BlockList>();

/** The entries (addresses and CIDRs; anything else is skipped) as one BlockList, cached per array. */
export function networkList(entries: readonly string[]): BlockList {
  let list = lists.get(entries);
  if (!list) {
    list = new BlockList();
    for (const e of entries) addNetwork(list, e);
    lists.set(entries, list);
  }
  return list;
}
