/*
 * test/e2e/open-relay.test.ts — the gateway is never an open relay (ARCHITECTURE contract 4).
 *
 * One gateway with three listeners: `mx` (unauthenticated), a `relay` listener whose
 * trustedNetworks exclude 127.0.0.1 (so the test client is untrusted), and a `relay` listener
 * that trusts 127.0.0.0/8. Mail for foreign domains goes to a smarthost sink, so any relay
 * trick that got through would show up there; mail for the relay domain goes to another sink.
 * Every classic trick is tried unauthenticated on mx and must be refused at RCPT (or as bad
 * syntax); nothing may reach either sink except the control messages.
 */
import t from 'tap';
import { admin, makeMessage, SmtpClient, smtpTalk, startGateway, startSink } from './harness/index.js';

const RELAY_DOMAIN = 'corp.test';
const FOREIGN = 'foreign.test';

t.test('open relay attempts are refused; trusted relay works', async (t) => {
  const internal = await startSink(t); // corp.test's internal server
  const smarthost = await startSink(t); // where outbound (foreign) mail would go
  const gw = await startGateway(t, {
    config: {
      hostname: 'gw.tuxhat.test',
      listeners: {
        mx: { kind: 'mx', tls: 'none' },
        untrusted: { kind: 'relay', tls: 'none', trustedNetworks: ['10.0.0.0/8', '192.168.0.0/16'] },
        trusted: { kind: 'relay', tls: 'none', trustedNetworks: ['127.0.0.0/8'] },
      },
      domains: { [RELAY_DOMAIN]: { route: { transport: 'smtp', hosts: [internal.hostPort], tls: 'none' } } },
      outbound: { mode: 'smarthost', hosts: [smarthost.hostPort], tls: 'none' },
      // The dozens of refused relay tricks below give 127.0.0.0/24 a bad reputation, which
      // would greylist its later legitimate mail (issue 5): not what this test is about.
      greylisting: { enabled: false },
    },
  });
  const mx = gw.ports['mx']!;

  await t.test('mx offers no AUTH and refuses the AUTH command', async (t) => {
    const r = await smtpTalk(mx, ['EHLO attacker.test', `AUTH PLAIN ${Buffer.from('\0u\0p').toString('base64')}`, 'QUIT']);
    t.equal(r[1]!.code, 250);
    t.notOk(r[1]!.lines.some((l) => /^AUTH\b/i.test(l)), 'no AUTH in the EHLO reply');
    t.ok(r[2]!.code >= 500 && r[2]!.code < 600, `AUTH refused: ${r[2]!.raw.join(' | ')}`);
  });

  // Each trick: the RCPT argument and what must come back.
  const tricks: Array<{ name: string; rcpt: string; code: number; text?: RegExp }> = [
    { name: 'foreign domain', rcpt: `user@${FOREIGN}`, code: 550, text: /^5\.7\.1 Relay access denied/ },
    { name: 'foreign domain, upper case', rcpt: `USER@FOREIGN.TEST`, code: 550, text: /^5\.7\.1 / },
    { name: 'subdomain of a relay domain', rcpt: `user@sub.${RELAY_DOMAIN}`, code: 550, text: /^5\.7\.1 / },
    { name: 'address literal', rcpt: 'user@[127.0.0.1]', code: 550, text: /^5\.7\.1 / },
    { name: 'percent hack user%foreign@relay', rcpt: `user%${FOREIGN}@${RELAY_DOMAIN}`, code: 550, text: /^5\.7\.1 .*sender-specified routing/ },
    { name: 'bang path foreign!user@relay', rcpt: `${FOREIGN}!user@${RELAY_DOMAIN}`, code: 550, text: /^5\.7\.1 .*sender-specified routing/ },
    { name: 'quoted local part "user@foreign"@relay', rcpt: `"user@${FOREIGN}"@${RELAY_DOMAIN}`, code: 5 },
    { name: 'quoted percent "user%foreign"@relay', rcpt: `"user%${FOREIGN}"@${RELAY_DOMAIN}`, code: 5 },
    { name: 'source route <@relay:user@foreign>', rcpt: `@${RELAY_DOMAIN}:user@${FOREIGN}`, code: 550, text: /^5\.7\.1 / },
    { name: 'source route with two hops', rcpt: `@${RELAY_DOMAIN},@mx.${RELAY_DOMAIN}:user@${FOREIGN}`, code: 550, text: /^5\.7\.1 / },
    { name: 'double @ user@foreign@relay', rcpt: `user@${FOREIGN}@${RELAY_DOMAIN}`, code: 5 },
    { name: 'percent hack to an address literal', rcpt: `user%[10.0.0.1]@${RELAY_DOMAIN}`, code: 550, text: /^5\.7\.1 / },
  ];

  await t.test('mx (unauthenticated): every relay trick is refused', async (t) => {
    for (const trick of tricks) {
      // One session per trick, each trying to complete the transaction.
      const msg = makeMessage({ to: trick.rcpt, messageId: `<trick-${tricks.indexOf(trick)}@attacker.test>` });
      const r = await smtpTalk(mx, ['EHLO attacker.test', 'MAIL FROM:<spammer@attacker.test>', `RCPT TO:<${trick.rcpt}>`, 'DATA', { data: msg }, 'QUIT']);
      const rcpt = r[3]!;
      if (trick.code === 5) t.ok(rcpt.code >= 500 && rcpt.code < 600, `${trick.name}: refused with 5xx (${rcpt.raw.join(' | ')})`);
      else t.equal(rcpt.code, trick.code, `${trick.name}: ${trick.code} (${rcpt.raw.join(' | ')})`);
      if (trick.text) t.match(rcpt.text, trick.text, `${trick.name}: reply text`);
      t.not(r[4]?.code, 354, `${trick.name}: DATA not accepted without a valid recipient`);
      t.notOk(r.some((x) => /queued as/.test(x.text)), `${trick.name}: nothing queued`);
    }
  });

  await t.test('mx: a mixed transaction delivers only to the relay domain', async (t) => {
    const c = await SmtpClient.connect(mx);
    await c.ehlo('attacker.test');
    const res = await c.send({
      from: 'someone@attacker.test',
      to: [`victim@${FOREIGN}`, `user%${FOREIGN}@${RELAY_DOMAIN}`, `legit@${RELAY_DOMAIN}`],
      message: makeMessage({ to: `legit@${RELAY_DOMAIN}`, messageId: '<mixed@attacker.test>' }),
    });
    await c.quit();
    t.same(res.rcpt.map((x) => x.code), [550, 550, 250], 'only the relay-domain recipient accepted');
    t.ok(res.ok, 'the message itself is accepted for that recipient');
    const [m] = await internal.waitForMessages(1, 15_000);
    t.same(m!.rcptTo, [`legit@${RELAY_DOMAIN}`], 'internal server got exactly the one good recipient');
    t.equal(m!.messageId, '<mixed@attacker.test>');
  });

  await t.test('relay listener, client not in trustedNetworks: refused', async (t) => {
    const port = gw.ports['untrusted']!;
    const r = await smtpTalk(port, ['EHLO internal.test', 'MAIL FROM:<app@corp.test>', `RCPT TO:<user@${FOREIGN}>`, 'DATA', 'QUIT']);
    // The sender check refuses MAIL (530 5.7.0); if a client ignores that, RCPT and DATA fail too.
    t.equal(r[2]!.code, 530, `MAIL refused: ${r[2]!.raw.join(' | ')}`);
    t.match(r[2]!.text, /^5\.7\.0 /);
    t.ok(r[3]!.code >= 500, `RCPT refused: ${r[3]!.raw.join(' | ')}`);
    t.not(r[4]!.code, 354, 'no DATA');
    // Also for the relay domain: an untrusted relay client is not an mx.
    const r2 = await smtpTalk(port, ['EHLO internal.test', 'MAIL FROM:<app@corp.test>', `RCPT TO:<user@${RELAY_DOMAIN}>`, 'QUIT']);
    t.equal(r2[2]!.code, 530, 'MAIL refused for the relay domain too');
    t.ok(r2[3]!.code >= 500, 'RCPT refused');
  });

  await t.test('relay listener, client in trustedNetworks: foreign mail goes to the smarthost', async (t) => {
    const port = gw.ports['trusted']!;
    const r = await smtpTalk(port, [
      'EHLO internal.test', 'MAIL FROM:<app@corp.test>', `RCPT TO:<partner@${FOREIGN}>`, 'DATA',
      { data: makeMessage({ from: 'app@corp.test', to: `partner@${FOREIGN}`, messageId: '<trusted-out@corp.test>' }) }, 'QUIT',
    ]);
    t.same(r.slice(0, 6).map((x) => x.code), [220, 250, 250, 250, 354, 250], `accepted: ${r.map((x) => x.raw.join(' | ')).join(' / ')}`);
    t.match(r[5]!.text, /^2\.0\.0 Ok: queued as [0-9A-Z]+$/);
    const [m] = await smarthost.waitForMessages(1, 15_000);
    t.equal(m!.messageId, '<trusted-out@corp.test>', 'delivered via the smarthost');
    t.same(m!.rcptTo, [`partner@${FOREIGN}`]);
  });

  await t.test('nothing from the refused attempts reached any sink', async (t) => {
    // A last control message through mx, delivered after everything above: when it has arrived,
    // anything queued earlier would have been delivered too.
    const r = await smtpTalk(mx, ['EHLO c.test', 'MAIL FROM:<c@client.test>', `RCPT TO:<control@${RELAY_DOMAIN}>`, 'DATA', { data: makeMessage({ messageId: '<control@client.test>' }) }, 'QUIT']);
    t.equal(r[5]!.code, 250);
    await internal.waitForMessages(2, 15_000);
    await gw.waitForLog((l) => l.event === 'removed' && gw.logs().some((q) => q.event === 'queued' && q.msgid === '<control@client.test>' && q.qid === l.qid), { what: 'the control message removed from the queue' });
    const internalIds = (await internal.messages()).map((m) => m.messageId).sort();
    const outIds = (await smarthost.messages()).map((m) => m.messageId).sort();
    t.same(internalIds, ['<control@client.test>', '<mixed@attacker.test>'], 'internal server: only the legitimate messages');
    t.same(outIds, ['<trusted-out@corp.test>'], 'smarthost: only the trusted relay message');
    const queued = gw.logs().filter((l) => l.event === 'queued');
    t.equal(queued.length, 3, 'exactly three messages were ever queued');
    const rejects = gw.logs().filter((l) => l.event === 'reject' && l.qid === null);
    t.ok(rejects.length >= tricks.length, `reject log lines with qid null (${rejects.length})`);
    // The queue is empty: nothing is waiting to be relayed either.
    const list = await admin(gw, ['queue', 'list']);
    t.equal(list.code, 0, 'tuxhat queue list', { output: list.stdout + list.stderr });
    t.match(list.stdout, /Mail queue is empty/, 'queue empty');
  });
});
