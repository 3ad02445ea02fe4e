/*
 * test/e2e/mx-inbound-arc-seal.test.ts — ARC sealing (issue 3) through the real daemon: inbound
 * mail that we modified (our Authentication-Results, Received-SPF) arrives at the internal server
 * with our ARC set on top, and mailauth's ARC verification of the received bytes (keys from
 * dnsmasq) says arc=pass with our domain as the newest sealer: i=1 for a message without a
 * chain, i=2 on top of a valid chain from an upstream sealer. The sealing key is the one
 * `tuxhat dkim keygen` made.
 */
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { authenticate, sealMessage } from 'mailauth';
import { configSchema } from '../../gateway/src/config/index.js';
import { createResolver } from '../../gateway/src/dns/index.js';
import { makeMessage, smtpTalk, startDns, startGateway, startSink, tempDir, tuxhat } from './harness/index.js';

const HOST = 'gw.tuxhat.test';
const flat = (v: string | undefined) => (v ?? '').replace(/\s+/g, ' ');

t.test('we ARC-seal the inbound messages we modify; the chain verifies downstream', async (t) => {
  const dir = await tempDir(t, 'arcseal');
  const keysDir = join(dir, 'keys');
  const kg = await tuxhat(['dkim', 'keygen', 'seal.tuxhat.test', '--selector', 'arc1', '--dir', keysDir]);
  t.equal(kg.code, 0, kg.stderr);
  const m = /^(\S+)\. IN TXT (.+)$/.exec(kg.stdout.trim())!;
  const upstream = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const upPem = upstream.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const dns = await startDns(t, {
    txt: {
      [m[1]!]: [...m[2]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]).join(''),
      'up._domainkey.lists.test': `v=DKIM1; k=rsa; p=${upstream.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
      'client.test': 'v=spf1 ip4:127.0.0.1 -all',
      '_dmarc.client.test': 'v=DMARC1; p=none',
    },
  });
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      hostname: HOST,
      dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 },
      dkim: { keysDir },
      arc: { seal: true, domain: 'seal.tuxhat.test', selector: 'arc1' },
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } } },
    },
  });
  const resolver = createResolver(configSchema.parse({ dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 } }).dns);
  t.teardown(() => resolver.close());
  const send = async (data: string) => {
    const r = await smtpTalk(gw.ports['mx']!, ['EHLO mail.client.test', 'MAIL FROM:<alice@client.test>', 'RCPT TO:<bob@corp.test>', 'DATA', { data }, 'QUIT']);
    t.equal(r[5]!.code, 250, r[5]!.text);
    const [msg] = await sink.waitForMessages(1, 15_000);
    sink.clear();
    const verified = await authenticate(Buffer.from(msg!.message, 'latin1'), { ip: '127.0.0.1', helo: 'gw.tuxhat.test', sender: 'alice@client.test', mta: 'mx.internal.test', resolver: resolver.resolve as never, disableBimi: true });
    return { msg: msg!, arc: verified.arc };
  };

  await t.test('no incoming chain: our seal is i=1, cv=none, and verifies', async (t) => {
    const { msg, arc } = await send(makeMessage({ from: 'alice@client.test', messageId: '<arc-1@client.test>' }));
    t.ok(/^ARC-Seal: i=1; /.test(msg.message), 'the ARC set is on top');
    t.match(flat(msg.get('arc-seal')), /i=1; a=rsa-sha256; .*cv=none; d=seal\.tuxhat\.test; s=arc1/);
    const aar = flat(msg.get('arc-authentication-results'));
    t.match(aar, new RegExp(`^i=1; ${HOST.replace(/\./g, '\\.')}; .*spf=pass`), 'our results, as in our A-R');
    t.ok(arc, 'verified');
    t.equal(arc && arc.status.result, 'pass', JSON.stringify(arc && arc.status));
    t.equal(arc && arc.signature ? arc.signature.signingDomain : null, 'seal.tuxhat.test');
  });

  await t.test('a valid upstream chain (i=1 by lists.test): we add i=2 with cv=pass; the whole chain verifies', async (t) => {
    const plain = makeMessage({ from: 'alice@client.test', messageId: '<arc-2@client.test>' });
    const upSet = await sealMessage(Buffer.from(plain), {
      signingDomain: 'lists.test', selector: 'up', privateKey: upPem, authResults: 'mx.lists.test; spf=pass smtp.mailfrom=alice@client.test', cv: 'none', signTime: new Date(),
    } as never);
    const { msg, arc } = await send(upSet.toString() + plain);
    t.match(flat(msg.get('arc-seal')), /^i=2; a=rsa-sha256; .*cv=pass; d=seal\.tuxhat\.test/);
    t.equal(msg.getAll('arc-seal').length, 2);
    t.match(flat(msg.get('authentication-results')), /arc=pass/, 'we verified the incoming chain');
    t.equal(arc && arc.status.result, 'pass', JSON.stringify(arc && arc.status));
    t.equal(arc && arc.i, 2);
  });
});
