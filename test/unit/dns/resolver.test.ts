/*
 * dns/resolver.ts against a real dnsmasq on loopback: result shapes and error codes as in
 * node:dns/promises, TTL and negative caching, coalescing, deadlines, and what is never cached.
 */
import t from 'tap';
import { createResolver, toNodeServer, type DnsConfig } from '../../../gateway/src/dns/index.js';
import { blackHoleDns, servfailDns, startDnsmasq, type Dnsmasq } from './fixtures/dnsmasq.js';

let dns: Dnsmasq;

t.before(async () => {
  dns = await startDnsmasq([
    '--mx-host=example.test,mx1.example.test,10',
    '--mx-host=example.test,mx2.example.test,20',
    '--host-record=mx1.example.test,127.0.0.1,::1,30',
    '--host-record=mx2.example.test,127.0.0.2,30',
    '--host-record=other.test,127.0.0.3,30',
    '--txt-record=example.test,v=spf1 -all',
    '--txt-record=multi.test,part1,part2',
    '--dns-rr=nullmx.test,15,000000',
    '--ptr-record=1.0.0.127.in-addr.arpa,localhost.example.test',
    '--ptr-record=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa,six.example.test',
  ]);
});
t.teardown(() => dns.stop());

const cfg = (over: Partial<DnsConfig> = {}): DnsConfig => ({
  servers: [dns.server], timeoutMs: 500, tries: 1, cacheMaxEntries: 100, maxTtlSeconds: 3600, negativeTtlSeconds: 300, ...over,
});

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

t.test('answers have node:dns/promises shapes', async (t) => {
  const r = createResolver(cfg());
  const mx = await r.mx('example.test');
  t.same([...mx].sort((a, b) => a.priority - b.priority), [
    { exchange: 'mx1.example.test', priority: 10 },
    { exchange: 'mx2.example.test', priority: 20 },
  ]);
  t.same(await r.a('mx1.example.test'), ['127.0.0.1']);
  t.same(await r.aaaa('mx1.example.test'), ['::1']);
  t.same(await r.txt('example.test'), [['v=spf1 -all']]);
  t.same(await r.txt('multi.test'), [['part1', 'part2']]);
  t.same(await r.ptr('127.0.0.1'), ['localhost.example.test']);
  t.same(await r.ptr('::1'), ['six.example.test']);
  t.same(await r.mx('nullmx.test'), [{ exchange: '', priority: 0 }], 'null MX (RFC 7505) comes back as an empty exchange');
  // The generic form, as mailauth calls it.
  t.same(await r.resolve('mx1.example.test'), ['127.0.0.1'], 'rrtype defaults to A');
  t.same(await r.resolve('example.test', 'TXT'), [['v=spf1 -all']]);
  t.same(await r.resolve('mx1.example.test', 'aaaa'), ['::1'], 'rrtype is case-insensitive');
  t.equal((await r.resolve('example.test', 'MX')).length, 2);
  r.close();
});

t.test('errors carry node codes: ENOTFOUND, ENODATA, EINVAL', async (t) => {
  const r = createResolver(cfg());
  const err = await r.mx('nx.test').catch((e: unknown) => e as { code: string; syscall: string; hostname: string });
  t.match(err, { code: 'ENOTFOUND', syscall: 'queryMx', hostname: 'nx.test' });
  t.equal(await codeOf(r.mx('other.test')), 'ENODATA', 'name exists, no MX');
  t.equal(await codeOf(r.aaaa('mx2.example.test')), 'ENODATA');
  t.equal(await codeOf(r.ptr('not an ip')), 'EINVAL');
  r.close();
});

t.test('positive answers are cached for their TTL, capped at maxTtlSeconds', async (t) => {
  let now = 1_000_000;
  const r = createResolver(cfg(), { now: () => now });
  await r.a('mx1.example.test');
  await r.a('MX1.Example.Test.');
  t.match(r.stats(), { hits: 1, misses: 1 }, 'second lookup (same name, other spelling) served from the cache');
  now += 29_000;
  await r.a('mx1.example.test');
  t.match(r.stats(), { hits: 2, misses: 1 }, 'still within the 30 s TTL');
  now += 2_000;
  await r.a('mx1.example.test');
  t.match(r.stats(), { hits: 2, misses: 2 }, 'asked again after the TTL');

  let now2 = 0;
  const capped = createResolver(cfg({ maxTtlSeconds: 5 }), { now: () => now2 });
  await capped.a('mx1.example.test');
  now2 += 6_000;
  await capped.a('mx1.example.test');
  t.match(capped.stats(), { hits: 0, misses: 2 }, 'TTL 30 s capped at 5 s');
  r.close();
  capped.close();
});

t.test('NXDOMAIN and NODATA are cached for negativeTtlSeconds', async (t) => {
  let now = 0;
  const r = createResolver(cfg({ negativeTtlSeconds: 10 }), { now: () => now });
  t.equal(await codeOf(r.mx('nx.test')), 'ENOTFOUND');
  t.equal(await codeOf(r.mx('nx.test')), 'ENOTFOUND');
  t.equal(await codeOf(r.mx('other.test')), 'ENODATA');
  t.equal(await codeOf(r.mx('other.test')), 'ENODATA');
  t.match(r.stats(), { hits: 2, misses: 2 });
  now += 10_001;
  t.equal(await codeOf(r.mx('nx.test')), 'ENOTFOUND');
  t.match(r.stats(), { hits: 2, misses: 3 }, 'asked again after negativeTtlSeconds');
  r.close();
});

t.test('callers get copies: editing an answer does not change the cache', async (t) => {
  const r = createResolver(cfg());
  const first = await r.mx('example.test');
  first.sort((a, b) => b.priority - a.priority).push({ exchange: 'evil.test', priority: 0 });
  const second = await r.mx('example.test');
  t.equal(second.length, 2);
  t.notOk(second.some((m) => m.exchange === 'evil.test'));
  r.close();
});

t.test('concurrent identical lookups share one query', async (t) => {
  const r = createResolver(cfg());
  const answers = await Promise.all([r.txt('example.test'), r.txt('example.test'), r.resolve('example.test', 'TXT')]);
  t.same(answers, [[['v=spf1 -all']], [['v=spf1 -all']], [['v=spf1 -all']]]);
  t.match(r.stats(), { misses: 1, coalesced: 2, hits: 0 });
  r.close();
});

t.test('the cache is bounded by cacheMaxEntries', async (t) => {
  const r = createResolver(cfg({ cacheMaxEntries: 2 }));
  await r.a('mx1.example.test');
  await r.a('mx2.example.test');
  await r.a('other.test');
  t.equal(r.stats().entries, 2);
  await r.a('mx1.example.test');
  t.match(r.stats(), { misses: 4 }, 'the oldest entry was evicted');
  r.close();
});

t.test('a silent server: ETIMEOUT within the deadline, never cached', async (t) => {
  const hole = await blackHoleDns();
  t.teardown(() => hole.stop());
  const r = createResolver(cfg({ servers: [hole.server], timeoutMs: 150, tries: 2 }));
  const started = Date.now();
  t.equal(await codeOf(r.a('slow.test')), 'ETIMEOUT');
  const took = Date.now() - started;
  t.ok(took >= 250 && took < 1000, `deadline is timeout × tries (took ${took} ms)`);
  t.equal(await codeOf(r.a('slow.test')), 'ETIMEOUT');
  t.match(r.stats(), { hits: 0, misses: 2, entries: 0 }, 'timeouts are not cached');
  t.ok(r.stats().timeouts >= 1);
  r.close();
});

t.test('SERVFAIL is passed on as ESERVFAIL and never cached', async (t) => {
  const bad = await servfailDns();
  t.teardown(() => bad.stop());
  const r = createResolver(cfg({ servers: [bad.server] }));
  t.equal(await codeOf(r.txt('broken.test')), 'ESERVFAIL');
  t.equal(await codeOf(r.txt('broken.test')), 'ESERVFAIL');
  t.match(r.stats(), { hits: 0, misses: 2, entries: 0 });
  r.close();
});

t.test('server strings: host:port and [v6]:port accepted, names refused', async (t) => {
  t.equal(toNodeServer('127.0.0.1'), '127.0.0.1');
  t.equal(toNodeServer('127.0.0.1:5353'), '127.0.0.1:5353');
  t.equal(toNodeServer('[127.0.0.1]:5353'), '127.0.0.1:5353');
  t.equal(toNodeServer('[::1]:5353'), '[::1]:5353');
  t.equal(toNodeServer('[::1]'), '::1');
  t.throws(() => toNodeServer('dns.example.test:53'), /not an IP address/);
  t.throws(() => createResolver(cfg({ servers: ['resolver.example.test'] })), /dns\.servers/);
});
