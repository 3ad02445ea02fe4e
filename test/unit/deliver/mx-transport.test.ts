/*
 * deliver/mx-transport.ts with a real dnsmasq serving MX/A records and smtp-sink as the "internet"
 * MX on a high port (outbound.mxPort), all on loopback.
 */
import t, { type Test } from 'tap';
import { createTransports, type Route } from '../../../gateway/src/deliver/index.js';
import { mxHosts } from '../../../gateway/src/deliver/mx-transport.js';
import { createResolver, type DnsResolver } from '../../../gateway/src/dns/index.js';
import { blackHoleDns, startDnsmasq, type Dnsmasq } from '../dns/fixtures/dnsmasq.js';
import { makeJob, silentLog, testConfig } from './fixtures/job.js';
import { closedPort, startSmtpSink, type Sink } from './fixtures/peers.js';

let dns: Dnsmasq;
let resolver: DnsResolver;
let sink: Sink;

t.before(async () => {
  dns = await startDnsmasq([
    // mx1 is preferred but nothing listens on 127.0.0.2: delivery must fall back to mx2.
    '--mx-host=remote.test,mx1.remote.test,10',
    '--mx-host=remote.test,mx2.remote.test,20',
    '--host-record=mx1.remote.test,127.0.0.2',
    '--host-record=mx2.remote.test,127.0.0.1',
    '--host-record=implicit.test,127.0.0.1',
    '--dns-rr=nullmx.test,15,000000',
    '--mx-host=broken.test,nowhere.broken.test,10',
    '--mx-host=up.test,mx.up.test,10',
    '--host-record=mx.up.test,127.0.0.1',
    '--txt-record=noaddr.test,exists',
  ]);
  resolver = createResolver({ ...testConfig().dns, servers: [dns.server], timeoutMs: 500, tries: 1 });
  sink = await startSmtpSink();
});
t.teardown(async () => {
  resolver.close();
  await sink.stop();
  await dns.stop();
});

const mxRoute = (domain: string): Route => ({ kind: 'mx', key: `mx:${domain}`, domain, tls: 'may' });

function transportFor(t: Test, r: DnsResolver = resolver) {
  const transports = createTransports(testConfig({ outbound: { mxPort: sink.port } }), r, silentLog);
  t.teardown(() => transports.close());
  return transports.forRoute(mxRoute('x.test'));
}

t.test('MX hosts in preference order, failing over to the next MX', async (t) => {
  const transport = transportFor(t);
  const before = (await sink.messages()).length;
  t.match(await transport.deliver(makeJob(mxRoute('remote.test'), ['a@remote.test', 'b@remote.test'])), [
    { recipient: 'a@remote.test', status: 'delivered', dsn: '2.0.0', relay: `mx2.remote.test[127.0.0.1]:${sink.port}` },
    { recipient: 'b@remote.test', status: 'delivered' },
  ]);
  const msgs = await sink.messages();
  t.equal(msgs.length, before + 1);
});

t.test('no MX: the domain\'s own address (implicit MX)', async (t) => {
  const transport = transportFor(t);
  t.match(await transport.deliver(makeJob(mxRoute('implicit.test'), ['a@implicit.test'])), [
    { status: 'delivered', relay: `implicit.test[127.0.0.1]:${sink.port}` },
  ]);
});

t.test('null MX bounces 5.1.10, NXDOMAIN bounces 5.1.2', async (t) => {
  const transport = transportFor(t);
  t.match(await transport.deliver(makeJob(mxRoute('nullmx.test'), ['a@nullmx.test'])), [
    { status: 'bounced', dsn: '5.1.10', response: 'Domain nullmx.test does not accept mail (nullMX)', relay: 'mx:nullmx.test' },
  ]);
  t.match(await transport.deliver(makeJob(mxRoute('nx.test'), ['a@nx.test', 'b@nx.test'])), [
    { status: 'bounced', dsn: '5.1.2', response: /name=nx\.test type=MX: Host not found$/ },
    { status: 'bounced', dsn: '5.1.2' },
  ]);
});

t.test('no address for any MX host, or for the implicit MX: bounced 5.4.4', async (t) => {
  const transport = transportFor(t);
  t.match(await transport.deliver(makeJob(mxRoute('broken.test'), ['a@broken.test'])), [
    { status: 'bounced', dsn: '5.4.4', response: /name=nowhere\.broken\.test/ },
  ]);
  t.match(await transport.deliver(makeJob(mxRoute('noaddr.test'), ['a@noaddr.test'])), [
    { status: 'bounced', dsn: '5.4.4', response: /name=noaddr\.test type=AAAA: Host found but no data record/ },
  ]);
});

t.test('DNS temporary failure: deferred 4.4.3', async (t) => {
  const hole = await blackHoleDns();
  t.teardown(() => hole.stop());
  const slow = createResolver({ ...testConfig().dns, servers: [hole.server], timeoutMs: 100, tries: 1 });
  t.teardown(() => slow.close());
  const transport = transportFor(t, slow);
  t.match(await transport.deliver(makeJob(mxRoute('remote.test'), ['a@remote.test'])), [
    { status: 'deferred', dsn: '4.4.3', response: /type=MX: Host not found, try again \(ETIMEOUT\)/ },
  ]);
});

t.test('the only MX refuses connections: deferred 4.4.1 naming it', async (t) => {
  const port = await closedPort();
  const transports = createTransports(testConfig({ outbound: { mxPort: port } }), resolver, silentLog);
  t.teardown(() => transports.close());
  t.match(await transports.forRoute(mxRoute('up.test')).deliver(makeJob(mxRoute('up.test'), ['a@up.test'])), [
    { status: 'deferred', dsn: '4.4.1', response: `connect to mx.up.test[127.0.0.1]:${port}: Connection refused`, relay: `mx.up.test[127.0.0.1]:${port}` },
  ]);
});

t.test('MX ordering: by preference, equal preferences shuffled, duplicates dropped', async (t) => {
  const fake = (records: Array<{ exchange: string; priority: number }>, code?: string) => ({
    mx: async () => {
      if (code) throw Object.assign(new Error(code), { code });
      return records;
    },
  }) as unknown as DnsResolver;
  const recs = [
    { exchange: 'c.test', priority: 20 }, { exchange: 'a.test', priority: 10 }, { exchange: 'b.test', priority: 10 }, { exchange: 'A.test.', priority: 30 },
  ];
  const seq = (values: number[]) => () => values.shift() ?? 0;
  t.same(await mxHosts(fake(recs), 'd.test', seq([0.5, 0.9, 0.1, 0.5])), { ok: true, hosts: ['b.test', 'a.test', 'c.test'] });
  t.same(await mxHosts(fake(recs), 'd.test', seq([0.5, 0.1, 0.9, 0.5])), { ok: true, hosts: ['a.test', 'b.test', 'c.test'] });
  t.same(await mxHosts(fake([{ exchange: '.', priority: 0 }]), 'd.test'), { ok: false, status: 'bounced', dsn: '5.1.10', text: 'Domain d.test does not accept mail (nullMX)' });
  t.same(await mxHosts(fake([{ exchange: '', priority: 0 }, { exchange: 'mx.d.test', priority: 10 }]), 'd.test'), { ok: true, hosts: ['mx.d.test'] },
    'a null MX among real ones is ignored');
  t.same(await mxHosts(fake([], 'ENODATA'), 'd.test'), { ok: true, hosts: ['d.test'] });
  t.match(await mxHosts(fake([], 'ESERVFAIL'), 'd.test'), { ok: false, status: 'deferred', dsn: '4.4.3' });
});

t.test('a job for another route kind is deferred, not lost', async (t) => {
  const transport = transportFor(t);
  const [o] = await transport.deliver(makeJob({ kind: 'maildir', key: 'maildir:/x', path: '/x' }, ['a@x.test']));
  t.match(o, { status: 'deferred', dsn: '4.3.5' });
});
