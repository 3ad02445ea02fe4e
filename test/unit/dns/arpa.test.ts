/* dns/arpa.ts: reverse-lookup names for IPv4, IPv6, IPv4-mapped and embedded-IPv4 addresses. Pure. */
import t from 'tap';
import { reverseName } from '../../../gateway/src/dns/index.js';

const cases: Array<[string, string | null]> = [
  ['192.0.2.1', '1.2.0.192.in-addr.arpa'],
  ['::ffff:192.0.2.1', '1.2.0.192.in-addr.arpa'],
  ['2001:db8::1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
  ['::1', `1.${'0.'.repeat(31)}ip6.arpa`],
  ['2001:DB8:0:0:8:800:200C:417A', 'a.7.1.4.c.0.0.2.0.0.8.0.8.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
  ['64:ff9b::192.0.2.33', '1.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa'],
  ['not-an-ip', null],
  ['300.1.1.1', null],
];

for (const [ip, expected] of cases) {
  t.equal(reverseName(ip), expected, ip);
}
