/*
 * test/unit/core/networks.test.ts — config network lists as one matcher (core/networks.ts).
 */
import t from 'tap';
import { BlockList } from 'node:net';
import { addNetwork, inNetworks, networkList } from '../../../gateway/src/core/index.js';

t.test('addresses and CIDRs of both families; IPv4-mapped IPv6 matches IPv4 entries', async (t) => {
  const list = networkList(['192.0.2.7', '10.0.0.0/8', '2001:db8::/32']);
  t.ok(inNetworks(list, '192.0.2.7'));
  t.notOk(inNetworks(list, '192.0.2.8'), 'a single address is a /32');
  t.ok(inNetworks(list, '10.200.1.1'));
  t.ok(inNetworks(list, '::ffff:10.1.1.1'), 'a dual-stack socket\'s IPv4-mapped form');
  t.ok(inNetworks(list, '2001:db8:1::1'));
  t.notOk(inNetworks(list, '2001:db9::1'));
  t.notOk(inNetworks(list, 'not-an-ip'), 'not an address: false, not an exception');
  t.notOk(inNetworks(list, ''), 'empty: false');
});

t.test('one list per config array; entries that are no address are skipped', async (t) => {
  const entries = ['198.51.100.0/24'];
  t.equal(networkList(entries), networkList(entries), 'built once per array');
  t.not(networkList(entries), networkList(['198.51.100.0/24']), 'another array, another list');
  const l = new BlockList();
  t.equal(addNetwork(l, 'mail.example'), false);
  t.equal(addNetwork(l, '192.0.2.0/24/1'), false);
  t.equal(addNetwork(l, '192.0.2.0/24'), true);
  t.ok(inNetworks(networkList(['mail.example', '203.0.113.0/24']), '203.0.113.5'), 'the valid entries still match');
});
