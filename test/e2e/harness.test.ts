/*
 * test/e2e/harness.test.ts — proves the e2e harness itself against the real tools: smtp-sink,
 * dnsmasq, a private Postfix, swaks, and (with a stand-in daemon, fake-gateway.mjs) the gateway
 * launcher. It does not depend on the real daemon: tests of the daemon live in their own files.
 * If this file fails, every e2e test built on the harness is suspect.
 */
import t from 'tap';
import { join } from 'node:path';
import {
  CLAMD_TEST_MARKER,
  freePorts,
  isListening,
  makeMessage,
  reverseName,
  SmtpClient,
  smtpTalk,
  startClamd,
  startDns,
  startGateway,
  startPostfix,
  startSink,
  swaksSend,
  waitFor,
  waitForPortClosed,
} from './harness/index.js';

t.test('ports: distinct and free', async (t) => {
  const ports = await freePorts(5);
  t.equal(new Set(ports).size, 5);
  for (const p of ports) {
    t.ok(p >= 20000 && p < 32768, `${p} is below the ephemeral range`);
    t.notOk(await isListening(p));
  }
});

t.test('smtp-sink: receives, parses, rejects on demand, restarts on the same port', async (t) => {
  const sink = await startSink(t);
  const msg = makeMessage({ to: 'user@corp.test', messageId: '<one@harness.test>', body: 'line 1\r\n.leading dot\r\n' });
  const replies = await smtpTalk(sink.port, ['EHLO client.test', 'MAIL FROM:<a@client.test>', 'RCPT TO:<user@corp.test>', 'RCPT TO:<other@corp.test>', 'DATA', { data: msg }, 'QUIT']);
  t.same(replies.map((r) => r.code), [220, 250, 250, 250, 250, 354, 250, 221]);
  const [m] = await sink.waitForMessages(1);
  t.ok(m);
  t.equal(m!.messageId, '<one@harness.test>');
  t.equal(m!.mailFrom, 'a@client.test');
  t.same(m!.rcptTo, ['user@corp.test', 'other@corp.test']);
  t.equal(m!.helo, 'client.test');
  t.equal(m!.get('subject'), 'test message');
  t.match(m!.body, /^line 1\n\.leading dot\n?$/, 'dot-stuffing undone, body intact');
  t.equal(sink.count(), 1);

  await sink.restart({ rejectSoft: ['RCPT'], softReply: '451 4.3.0 try later' });
  const soft = await smtpTalk(sink.port, ['EHLO c', 'MAIL FROM:<a@client.test>', 'RCPT TO:<u@corp.test>', 'QUIT']);
  t.equal(soft[3]!.code, 451, 'RCPT deferred with the given reply');
  t.equal(soft[3]!.text, '4.3.0 try later');

  await sink.restart({ rejectHard: ['DATA'] });
  const hard = await smtpTalk(sink.port, ['EHLO c', 'MAIL FROM:<a@client.test>', 'RCPT TO:<u@corp.test>', 'DATA', 'QUIT']);
  t.equal(hard[4]!.code, 500, 'DATA refused with a 5xx');

  await sink.stop();
  await waitForPortClosed(sink.port);
  t.notOk(sink.running(), 'stopped: the next hop is down');
  await sink.restart({});
  const c = await SmtpClient.connect(sink.port);
  const r = await c.send({ from: 'b@client.test', to: ['x@corp.test'], message: makeMessage({ messageId: '<two@harness.test>' }) });
  await c.quit();
  t.ok(r.ok);
  const all = await sink.waitForMessages(2);
  t.same(all.map((x) => x.messageId).sort(), ['<one@harness.test>', '<two@harness.test>'], 'messages survive a restart');
  t.equal(sink.count(), 2, 'counter carried across restarts');
  await sink.clear();
  t.equal(sink.count(), 0);
  t.same(await sink.messages(), []);
});

t.test('dnsmasq: serves MX, A, TXT, PTR, null MX; NXDOMAIN vs NODATA; replaces records', async (t) => {
  const dkim = `v=DKIM1; k=rsa; p=${'A'.repeat(392)}`;
  const dns = await startDns(t, {
    mx: { 'corp.test': [{ exchange: 'mx1.corp.test', priority: 10 }, { exchange: 'mx2.corp.test', priority: 20 }], 'null.test': { exchange: '.', priority: 0 } },
    a: { 'mx1.corp.test': '127.0.0.1', 'mx2.corp.test': '127.0.0.2', '2.0.0.127.zen.dnsbl.test': '127.0.0.2' },
    txt: { 'corp.test': ['v=spf1 ip4:127.0.0.0/8 -all', 'other'], 'sel._domainkey.corp.test': dkim, '_dmarc.corp.test': 'v=DMARC1; p=reject; rua=mailto:a@corp.test,mailto:b@corp.test' },
    ptr: { '127.0.0.1': 'client.corp.test', '127.0.0.2': 'mx2.corp.test' },
  });
  const r = dns.resolver();
  t.same((await r.resolveMx('corp.test')).sort((a, b) => a.priority - b.priority), [
    { exchange: 'mx1.corp.test', priority: 10 },
    { exchange: 'mx2.corp.test', priority: 20 },
  ]);
  t.same(await r.resolveMx('null.test'), [{ exchange: '', priority: 0 }], 'null MX');
  t.same(await r.resolve4('mx1.corp.test'), ['127.0.0.1']);
  t.same(await r.resolve4('2.0.0.127.zen.dnsbl.test'), ['127.0.0.2'], 'DNSBL-style listing');
  const txt = (await r.resolveTxt('corp.test')).map((x) => x.join('')).sort();
  t.same(txt, ['other', 'v=spf1 ip4:127.0.0.0/8 -all']);
  t.equal((await r.resolveTxt('sel._domainkey.corp.test'))[0]!.join(''), dkim, 'long TXT split and joined');
  t.equal((await r.resolveTxt('_dmarc.corp.test'))[0]!.join(''), 'v=DMARC1; p=reject; rua=mailto:a@corp.test,mailto:b@corp.test', 'commas kept');
  t.same(await r.resolve(reverseName('127.0.0.1'), 'PTR'), ['client.corp.test'], 'explicit PTR wins');
  await t.rejects(r.resolve4('nope.corp.test'), { code: 'ENOTFOUND' }, 'unknown name: NXDOMAIN');
  await t.rejects(r.resolve4('example.com'), { code: 'ENOTFOUND' }, 'nothing is forwarded');
  await t.rejects(r.resolveTxt('mx1.corp.test'), { code: 'ENODATA' }, 'name exists, type not: NODATA');
  t.ok(dns.queries().includes('MX corp.test'), 'queries are logged');

  await dns.setRecords({ a: { 'new.corp.test': '127.0.0.9' } });
  t.same(await r.resolve4('new.corp.test'), ['127.0.0.9']);
  await t.rejects(r.resolveMx('null.test'), { code: 'ENOTFOUND' }, 'old records gone');
  await t.rejects(r.resolveMx('corp.test'), { code: 'ENODATA' }, 'corp.test now exists only as a parent of new.corp.test');
  t.equal(reverseName('2001:db8::1'), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
});

t.test('postfix: swaks → private Postfix (found via MX in dnsmasq) → smtp-sink', async (t) => {
  const sink = await startSink(t);
  const pf = await startPostfix(t, { relayTo: sink.hostPort });
  const dns = await startDns(t, { mx: { 'corp.test': 'mx.corp.test' }, a: { 'mx.corp.test': '127.0.0.1' } });
  const [mx] = await dns.resolver().resolveMx('corp.test');
  const [addr] = await dns.resolver().resolve4(mx!.exchange);
  t.equal(addr, '127.0.0.1');

  const res = await swaksSend(pf.port, { host: addr, to: 'user@corp.test', headers: { 'Message-Id': '<pf1@harness.test>' } });
  t.equal(res.code, 0, `swaks exit 0\n${res.transcript}`);
  t.ok(res.queuedAs, 'Postfix queued it');
  const [m] = await sink.waitForMessages(1, 20_000);
  t.equal(m!.messageId, '<pf1@harness.test>');
  t.same(m!.rcptTo, ['user@corp.test']);
  t.match(m!.get('received') ?? '', /by postfix\.test \(Postfix\)/, 'relayed by our Postfix');
  await pf.waitForEmptyQueue();
  t.match(await pf.log(), /status=sent/, 'the maillog works');

  // Next hop down: Postfix defers and keeps the mail; back up: it delivers on retry.
  await sink.stop();
  const res2 = await swaksSend(pf.port, { to: 'user@corp.test', headers: { 'Message-Id': '<pf2@harness.test>' } });
  t.equal(res2.code, 0);
  await waitFor(async () => /status=deferred/.test(await pf.log()), { what: 'the deferral in the maillog' });
  t.equal(await pf.queueSize(), 1, 'kept in the queue while the next hop is down');
  await sink.restart();
  await pf.flush();
  const after = await sink.waitForMessages(2, 20_000);
  t.ok(after.some((x) => x.messageId === '<pf2@harness.test>'), 'delivered after the next hop came back');
});

t.test('postfix: final destination with recipient checks', async (t) => {
  const pf = await startPostfix(t, { mailbox: { domains: ['corp.test'], users: ['alice@corp.test'] } });
  const replies = await smtpTalk(pf.port, ['EHLO client.test', 'MAIL FROM:<a@client.test>', 'RCPT TO:<bob@corp.test>', 'RCPT TO:<alice@corp.test>', 'DATA', { data: makeMessage({ to: 'alice@corp.test', messageId: '<box@harness.test>' }) }, 'QUIT']);
  t.equal(replies[3]!.code, 550, 'unknown user refused at RCPT');
  t.match(replies[3]!.text, /5\.1\.1/);
  t.equal(replies[4]!.code, 250);
  t.equal(replies[6]!.code, 250);
  let box: Awaited<ReturnType<typeof pf.delivered>> = [];
  for (let i = 0; i < 100 && box.length === 0; i++) {
    box = await pf.delivered();
    if (box.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(box.length, 1);
  t.equal(box[0]!.mailbox, 'alice@corp.test');
  t.match(box[0]!.content, /Message-ID: <box@harness\.test>/);
});

t.test('clamd: a private instance with a made-up signature', async (t) => {
  const clamd = await startClamd(t);
  t.equal(await clamd.scan('just a clean message\r\n'), 'stream: OK');
  t.equal(await clamd.scan(`Subject: x\r\n\r\nattached: ${CLAMD_TEST_MARKER}\r\n`), 'stream: TuxHat.Test.Virus.UNOFFICIAL FOUND');
  await clamd.stop();
  await t.rejects(clamd.scan('x'), 'clamd down: the socket refuses');
  await clamd.restart();
  t.equal(await clamd.scan('clean again'), 'stream: OK');
});

t.test('gateway launcher (with a stand-in daemon)', async (t) => {
  const entry = 'test/e2e/harness/fake-gateway.mjs';
  const gw = await startGateway(t, {
    entry,
    config: 'hostname: gw.test\nlisteners:\n  mx: { kind: mx, tls: none }\n  submission: { kind: submission, port: 0, tls: none }\n',
  });
  t.ok(gw.ports['mx'] && gw.ports['submission'] && gw.ports['mx'] !== gw.ports['submission'], 'ports assigned');
  t.match(gw.config, { paths: { state: join(gw.dir, 'state') }, admin: { socket: join(gw.dir, 'run', 'tuxhat.sock') }, workers: 1 });
  const greet = await smtpTalk(gw.ports['submission']!, ['QUIT']);
  t.match(greet[0]!.text, /^gw\.test ESMTP/);
  await gw.waitForLog((l) => l.event === 'listening' && l['listener'] === 'submission');
  t.ok(gw.logs().some((l) => l['raw'] === true && l.msg === 'not json on stderr'), 'non-JSON lines kept');

  await gw.reload({ hostname: 'gw2.test', listeners: { mx: { kind: 'mx', tls: 'none' }, submission: { kind: 'submission', tls: 'none' } } });
  await gw.waitForLog((l) => l.event === 'reload');

  const mxPort = gw.ports['mx']!;
  const pid1 = gw.pid();
  await gw.restart();
  t.not(gw.pid(), pid1, 'a new process');
  t.equal(gw.ports['mx'], mxPort, 'same port after restart');
  t.match((await smtpTalk(mxPort, ['QUIT']))[0]!.text, /^gw2\.test/, 'restarted with the reloaded config');
  t.equal(gw.logs().filter((l) => l.event === 'listening' && l['listener'] === 'mx').length, 2, 'logs accumulate');
  t.equal(await gw.stop(), 0, 'graceful stop exits 0');
  t.notOk(await isListening(mxPort));

  await t.rejects(startGateway(t, { entry, env: { FAKE_GATEWAY_FAIL: 'listeners.mx.port: expected number' }, readyTimeoutMs: 5000 }), /exited \(78\)[\s\S]*config error: listeners\.mx\.port/, 'start-up failure shows the output');
  await t.rejects(startGateway(t, { entry: 'does/not/exist.js' }), /npm run build/);
});
