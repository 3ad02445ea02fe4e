/*
 * test/e2e/mx-inbound-authentication.test.ts — issue 3, inbound sender authentication through
 * the real daemon: swaks / a raw SMTP client → gateway `mx` → smtp-sink, with dnsmasq serving
 * SPF, DKIM and DMARC records on loopback.
 *
 * Asserts what a postmaster and the mailbox side see: our Received-SPF and Authentication-Results
 * (authserv-id = hostname) at the internal server; a forged A-R claiming our id removed, another
 * server's A-R kept; SPF softfail delivered and labelled; DMARC p=reject fail refused in the
 * session with 550 5.7.1 (nothing delivered); p=quarantine tagged X-TuxHat-DMARC; a DNS server
 * that never answers → 451 4.7.0 and nothing delivered. A message signed by OpenDKIM's
 * opendkim-testmsg (key from opendkim-genkey) is rsa-sha1, the only algorithm it signs with:
 * against the genkey record (h=sha256) dkim=permerror, against the same key without h=
 * dkim=policy (weak-algorithm) and DKIM_WEAK_ALGORITHM; never a pass (RFC 8301, RFC 6376 §3.6.1). The other interop direction (OpenDKIM verifying our signatures) is in
 * submission-dkim.test.ts.
 */
import t from 'tap';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeMessage, run, type Cleanup, smtpTalk, startDns, startGateway, startSink, swaksSend, tempDir, which } from './harness/index.js';

const HOST = 'gw.tuxhat.test';
const CORP = { 'corp.test': { route: { transport: 'smtp', hosts: [] as string[], tls: 'none' } } };

/** The unfolded, whitespace-squeezed value. */
const flat = (v: string | undefined) => (v ?? '').replace(/\s+/g, ' ');

async function opendkimKey(t: Cleanup, domain: string, selector: string): Promise<{ keyFile: string; txt: string }> {
  const dir = await tempDir(t, 'opendkim-');
  const g = await run(which('opendkim-genkey', 'opendkim-tools'), ['-b', '2048', '-d', domain, '-s', selector, '-D', dir]);
  if (g.code !== 0) throw new Error(`opendkim-genkey failed: ${g.stderr}`);
  // rsa1.txt is a zone-file snippet: ( "v=DKIM1; h=sha256; k=rsa; " "p=..." "..." ) — join the strings.
  const zone = readFileSync(join(dir, `${selector}.txt`), 'utf8');
  const txt = [...zone.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');
  return { keyFile: join(dir, `${selector}.private`), txt };
}

t.test('SPF, DKIM (OpenDKIM-signed), DMARC through the daemon with dnsmasq', async (t) => {
  const odk = await opendkimKey(t, 'client.test', 'rsa1');
  const sink = await startSink(t);
  const dns = await startDns(t, {
    txt: {
      'client.test': 'v=spf1 ip4:127.0.0.1 -all',
      '_dmarc.client.test': 'v=DMARC1; p=reject',
      'rsa1._domainkey.client.test': odk.txt,
      'legacy._domainkey.client.test': odk.txt.replace(/h=sha256;\s*/, ''),
      'soft.test': 'v=spf1 ip4:192.0.2.1 ~all',
      'bank.test': 'v=spf1 ip4:192.0.2.1 -all',
      '_dmarc.bank.test': 'v=DMARC1; p=reject',
      'shop.test': 'v=spf1 ip4:192.0.2.1 -all',
      '_dmarc.shop.test': 'v=DMARC1; p=quarantine',
    },
  });
  const gw = await startGateway(t, {
    config: {
      hostname: HOST,
      dns: { servers: [dns.server] },
      domains: { 'corp.test': { route: { ...CORP['corp.test'].route, hosts: [sink.hostPort] } } },
    },
  });
  const mx = gw.ports['mx']!;

  await t.test('pass: our Received-SPF and A-R arrive; a forged A-R with our id is removed', async (t) => {
    const data = makeMessage({
      from: 'alice@client.test', messageId: '<pass-1@client.test>',
      headers: {
        'Authentication-Results': `${HOST}; spf=pass smtp.mailfrom=ceo@corp.test; dkim=pass header.d=corp.test`,
        'X-Upstream': 'x',
      },
    }).replace('X-Upstream: x', 'Authentication-Results: mx.upstream.test; spf=fail');
    const res = await swaksSend(mx, { from: 'alice@client.test', to: 'bob@corp.test', helo: 'mail.client.test', data });
    t.equal(res.code, 0, 'accepted', { transcript: res.transcript });
    const [m] = await sink.waitForMessages(1, 15_000);
    const ars = m!.getAll('authentication-results').map(flat);
    t.equal(ars.length, 2, `ours and the upstream one: ${JSON.stringify(ars)}`);
    t.match(ars[0], new RegExp(`^${HOST.replace(/\./g, '\\.')}; .*spf=pass .*smtp\\.mailfrom=alice@client\\.test`));
    t.match(ars[0], /dmarc=pass/);
    t.match(ars[0], /dkim=none/);
    t.equal(ars[1], 'mx.upstream.test; spf=fail', 'another server\'s result is kept');
    t.notOk(ars.some((a) => a.includes('ceo@corp.test')), 'the forged result is gone');
    t.match(flat(m!.get('received-spf')), /^pass \(/);
    const queued = await gw.waitForLog((l) => l.event === 'queued' && l['msgid'] === '<pass-1@client.test>', { what: 'queued line' });
    t.equal(queued['spf'], 'pass');
    t.equal(queued['dmarc'], 'pass');
    t.match(JSON.stringify(queued['symbols']), /SPF_ALLOW\(-0\.2\).*DMARC_ALLOW\(-0\.5\)/);
    sink.clear();
  });

  await t.test('signed by opendkim-testmsg (rsa-sha1, its only algorithm) → never a pass (RFC 8301, key h=)', async (t) => {
    const sign = async (selector: string, id: string) => {
      const plain = makeMessage({ from: 'alice@client.test', messageId: id, body: 'Signed by OpenDKIM.\r\n' });
      const out = await run('/bin/sh', ['-c', `${which('opendkim-testmsg', 'opendkim-tools')} -C -d client.test -k ${odk.keyFile} -s ${selector}`], { input: plain });
      t.equal(out.code, 0, out.stderr);
      t.match(out.stdout, /^DKIM-Signature: v=1; a=rsa-sha1;/);
      const r = await smtpTalk(mx, ['EHLO mail.client.test', 'MAIL FROM:<alice@client.test>', 'RCPT TO:<bob@corp.test>', 'DATA', { data: out.stdout.replace(/\r?\n/g, '\r\n') }, 'QUIT']);
      t.equal(r[5]!.code, 250, r[5]!.text);
      const [m] = await sink.waitForMessages(1, 15_000);
      sink.clear();
      const queued = await gw.waitForLog((l) => l.event === 'queued' && l['msgid'] === id, { what: 'queued line' });
      return { ar: flat(m!.get('authentication-results')), symbols: JSON.stringify(queued['symbols']) };
    };
    // Selector rsa1 publishes opendkim-genkey's record, which says h=sha256: a sha1 signature is
    // a permerror (RFC 6376 §3.6.1), whatever its cryptographic validity.
    const h = await sign('rsa1', '<odk-1@client.test>');
    t.match(h.ar, /dkim=permerror \(inappropriate hash algorithm\) header\.i=@client\.test header\.s=rsa1 header\.a=rsa-sha1/, h.ar);
    t.match(h.symbols, /DKIM_PERMFAIL/);
    // Selector legacy: the same key without h=. The signature verifies, but sha1 is not a pass.
    const w = await sign('legacy', '<odk-2@client.test>');
    t.match(w.ar, /dkim=policy \(rsa-sha1 not accepted per RFC 8301\) policy\.dkim-rules=weak-algorithm header\.i=@client\.test header\.s=legacy header\.a=rsa-sha1/, w.ar);
    t.match(w.symbols, /DKIM_WEAK_ALGORITHM/);
    for (const x of [h, w]) {
      t.notMatch(x.ar, /dkim=pass/);
      t.match(x.ar, /dmarc=pass/, 'DMARC still passes through the aligned SPF pass');
    }
  });

  await t.test('SPF softfail: delivered and labelled', async (t) => {
    const res = await swaksSend(mx, { from: 'x@soft.test', to: 'bob@corp.test', helo: 'mail.soft.test', headers: { 'Message-Id': '<soft-1@soft.test>' } });
    t.equal(res.code, 0, 'accepted', { transcript: res.transcript });
    const [m] = await sink.waitForMessages(1, 15_000);
    t.match(flat(m!.get('authentication-results')), /spf=softfail/);
    t.match(flat(m!.get('received-spf')), /^softfail/);
    sink.clear();
  });

  await t.test('DMARC p=reject fail: 550 5.7.1 in the session, nothing delivered', async (t) => {
    const r = await smtpTalk(mx, ['EHLO mail.evil.test', 'MAIL FROM:<ceo@bank.test>', 'RCPT TO:<bob@corp.test>', 'DATA',
      { data: makeMessage({ from: 'CEO <ceo@bank.test>', messageId: '<phish-1@bank.test>' }) }, 'QUIT']);
    t.equal(r[5]!.code, 550, r[5]!.text);
    t.match(r[5]!.text, /^5\.7\.1 Rejected by the DMARC policy of the sender domain: bank\.test/);
    const rej = await gw.waitForLog((l) => l.event === 'reject' && l['msgid'] === '<phish-1@bank.test>', { what: 'reject line' });
    t.equal(rej['qid'], null, 'no queue id for a rejected message');
    t.equal(rej['dmarc'], 'fail');
    t.equal(rej['spf'], 'fail');
    t.match(String(rej['response']), /^550 5\.7\.1 /);
    await new Promise((r) => setTimeout(r, 500));
    t.equal(sink.count(), 0, 'nothing delivered');
  });

  await t.test('DMARC p=quarantine fail: delivered with X-TuxHat-DMARC: quarantine (a forged one replaced)', async (t) => {
    const res = await swaksSend(mx, { from: 'x@shop.test', to: 'bob@corp.test', helo: 'mail.evil.test',
      data: makeMessage({ from: 'x@shop.test', messageId: '<q-1@shop.test>', headers: { 'X-TuxHat-DMARC': 'none' } }) });
    t.equal(res.code, 0, 'accepted', { transcript: res.transcript });
    const [m] = await sink.waitForMessages(1, 15_000);
    t.same(m!.getAll('x-tuxhat-dmarc'), ['quarantine']);
    t.match(flat(m!.get('authentication-results')), /dmarc=fail/);
    sink.clear();
  });

  await t.test('DMARC p=quarantine with authentication.dmarcQuarantine: quarantine → the quarantine store', async (t) => {
    await gw.reload({ ...gw.config, authentication: { dmarcQuarantine: 'quarantine' } });
    await gw.waitForLog((l) => l.event === 'listening' && l['generation'] === 2, { what: 'the reloaded receivers' });
    const res = await swaksSend(mx, { from: 'x@shop.test', to: 'bob@corp.test', helo: 'mail.evil.test',
      data: makeMessage({ from: 'x@shop.test', messageId: '<q-2@shop.test>' }) });
    t.equal(res.code, 0, 'accepted', { transcript: res.transcript });
    const q = await gw.waitForLog((l) => l.event === 'quarantined' && l['msgid'] === '<q-2@shop.test>', { what: 'quarantined line' });
    t.equal(q['reason'], 'DMARC p=quarantine shop.test');
    t.equal(q['dmarc'], 'fail');
    await new Promise((r) => setTimeout(r, 500));
    t.equal(sink.count(), 0, 'nothing delivered');
  });
});

t.test('a DNS server that never answers: 451 4.7.0 (SPF/DMARC temperror), nothing delivered', async (t) => {
  const silentPort = await freePort();
  const silent = createSocket('udp4');
  silent.on('message', () => undefined); // swallow every query
  await new Promise<void>((resolve) => silent.bind(silentPort, '127.0.0.1', resolve));
  t.teardown(() => silent.close());
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      hostname: HOST,
      dns: { servers: [`127.0.0.1:${silentPort}`], timeoutMs: 200, tries: 1 },
      domains: { 'corp.test': { route: { ...CORP['corp.test'].route, hosts: [sink.hostPort] } } },
    },
  });
  const r = await smtpTalk(gw.ports['mx']!, ['EHLO mail.client.test', 'MAIL FROM:<alice@client.test>', 'RCPT TO:<bob@corp.test>', 'DATA',
    { data: makeMessage({ from: 'alice@client.test', messageId: '<tmp-1@client.test>' }) }, 'QUIT']);
  t.equal(r[5]!.code, 451, r[5]!.text);
  t.match(r[5]!.text, /^4\.7\.0 Temporary failure in sender authentication/);
  const rej = await gw.waitForLog((l) => l.event === 'reject' && l['msgid'] === '<tmp-1@client.test>', { what: 'reject line' });
  t.equal(rej['spf'], 'temperror');
  t.match(JSON.stringify(rej['symbols']), /SPF_TEMPFAIL/);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(sink.count(), 0, 'nothing delivered');
});

t.test('authentication.earlySpfReject: SPF fail refused at MAIL FROM (550 5.7.23); a pass is evaluated once', async (t) => {
  const sink = await startSink(t);
  const dns = await startDns(t, {
    txt: {
      'client.test': 'v=spf1 ip4:127.0.0.1 -all',
      'bank.test': 'v=spf1 ip4:192.0.2.1 -all',
      'soft.test': 'v=spf1 ip4:192.0.2.1 ~all',
    },
  });
  const gw = await startGateway(t, {
    config: {
      hostname: HOST,
      dns: { servers: [dns.server] },
      authentication: { earlySpfReject: true },
      domains: { 'corp.test': { route: { ...CORP['corp.test'].route, hosts: [sink.hostPort] } } },
    },
  });
  const mx = gw.ports['mx']!;
  const r = await smtpTalk(mx, ['EHLO mail.evil.test', 'MAIL FROM:<ceo@bank.test>', 'RCPT TO:<bob@corp.test>', 'QUIT']);
  t.equal(r[2]!.code, 550, r[2]!.text);
  t.match(r[2]!.text, /^5\.7\.23 SPF validation failed: the sender domain does not allow this host: bank\.test/);
  t.not(r[3]!.code, 250, 'no transaction after the refusal');
  const rej = await gw.waitForLog((l) => l.event === 'reject' && l['phase'] === 'mail' && l['from'] === 'ceo@bank.test', { what: 'reject line' });
  t.match(String(rej['response']), /^550 5\.7\.23 /);

  // softfail (~all) is not refused early: judged after DATA.
  const soft = await swaksSend(mx, { from: 'x@soft.test', to: 'bob@corp.test', helo: 'mail.soft.test', headers: { 'Message-Id': '<early-soft@soft.test>' } });
  t.equal(soft.code, 0, 'softfail accepted', { transcript: soft.transcript });
  const [m1] = await sink.waitForMessages(1, 15_000);
  t.match(flat(m1!.get('authentication-results')), /spf=softfail/);
  sink.clear();

  const before = dns.queries().filter((q) => q === 'TXT client.test').length;
  const ok = await swaksSend(mx, { from: 'alice@client.test', to: 'bob@corp.test', helo: 'mail.client.test', headers: { 'Message-Id': '<early-pass@client.test>' } });
  t.equal(ok.code, 0, 'accepted', { transcript: ok.transcript });
  const [m] = await sink.waitForMessages(1, 15_000);
  t.match(flat(m!.get('authentication-results')), /spf=pass .*smtp\.mailfrom=alice@client\.test/);
  t.equal(dns.queries().filter((q) => q === 'TXT client.test').length - before, 1, 'the SPF record was fetched once (MAIL FROM), reused after DATA');
});
