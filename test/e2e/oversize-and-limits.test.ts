/*
 * test/e2e/oversize-and-limits.test.ts — the listener limits a postmaster configures:
 * maxMessageBytes (SIZE in EHLO; MAIL FROM SIZE= above it → 552; a body that turns out larger →
 * 552 after DATA, nothing queued), maxRecipients (the one past the limit → 452), maxConnectionsPerIp
 * (the connection past it → 421 4.7.0) and idleTimeoutMs (an idle client is dropped with 421).
 */
import t from 'tap';
import { makeMessage, SmtpClient, sleep, startGateway, startSink } from './harness/index.js';

const MAX_BYTES = 10_000;

t.test('size, recipient, connection and idle limits', async (t) => {
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      listeners: { mx: { kind: 'mx', tls: 'none', maxMessageBytes: MAX_BYTES, maxRecipients: 2, maxConnectionsPerIp: 3, idleTimeoutMs: 1500 } },
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } } },
    },
  });
  const port = gw.ports['mx']!;

  await t.test('SIZE: announced, declared too big → 552, body too big → 552, at the limit → 250', async (t) => {
    const c = await SmtpClient.connect(port);
    t.teardown(() => c.close());
    const ehlo = await c.ehlo('client.test');
    t.ok(ehlo.lines.includes(`SIZE ${MAX_BYTES}`), `EHLO announces SIZE ${MAX_BYTES}`);

    const declared = await c.command(`MAIL FROM:<a@client.test> SIZE=${MAX_BYTES * 2}`);
    t.equal(declared.code, 552, `SIZE=${MAX_BYTES * 2} refused at MAIL: ${declared.raw.join(' | ')}`);
    t.match(declared.text, /5\.3\.4/, 'with 5.3.4 (message size exceeds fixed limit)');

    // A client that declares a small size (or none) but sends more: refused after DATA.
    const over = await c.send({ from: 'a@client.test', to: ['big@corp.test'], mailParams: 'SIZE=1000', message: makeMessage({ messageId: '<too-big@client.test>', body: `${'x'.repeat(99)}\r\n`.repeat(150) }) });
    t.equal(over.mail.code, 250);
    t.equal(over.data?.code, 552, `an oversized body is refused after DATA: ${over.data?.raw.join(' | ')}`);
    t.match(over.data?.text ?? '', /5\.3\.4/, 'with 5.3.4');

    // The same session goes on: a message that fits is accepted.
    const fits = await c.send({ from: 'a@client.test', to: ['small@corp.test'], mailParams: 'SIZE=2000', message: makeMessage({ to: 'small@corp.test', messageId: '<fits@client.test>', body: `${'y'.repeat(99)}\r\n`.repeat(20) }) });
    t.ok(fits.ok, `a message under the limit is accepted: ${fits.data?.raw.join(' | ')}`);
    await c.quit();
  });

  await t.test('maxRecipients 2: the third RCPT gets 452, the message goes to the first two', async (t) => {
    const c = await SmtpClient.connect(port);
    t.teardown(() => c.close());
    await c.ehlo('client.test');
    const r = await c.send({ from: 'a@client.test', to: ['one@corp.test', 'two@corp.test', 'three@corp.test'], message: makeMessage({ to: 'one@corp.test', messageId: '<three-rcpts@client.test>' }) });
    t.same(r.rcpt.map((x) => x.code), [250, 250, 452], `RCPT replies: ${r.rcpt.map((x) => x.raw.join(' | ')).join(' / ')}`);
    t.match(r.rcpt[2]!.text, /4\.5\.3/, 'with 4.5.3 (too many recipients)');
    t.ok(r.ok, 'the message is accepted for the first two');
    await c.quit();
  });

  await t.test('only the fitting messages arrive', async (t) => {
    const msgs = await sink.waitForMessages(2, 15_000);
    await sleep(500);
    const all = await sink.messages();
    t.same(all.map((m) => m.messageId).sort(), ['<fits@client.test>', '<three-rcpts@client.test>'], 'the oversized message was not delivered');
    const three = msgs.find((m) => m.messageId === '<three-rcpts@client.test>');
    t.same(three?.rcptTo, ['one@corp.test', 'two@corp.test'], 'delivered to the two accepted recipients only');
    t.equal(gw.logs().filter((l) => l.event === 'queued').length, 2, 'two messages queued in all');
  });

  await t.test('maxConnectionsPerIp 3: the fourth connection gets 421 4.7.0', async (t) => {
    const open: SmtpClient[] = [];
    t.teardown(() => open.forEach((c) => c.close()));
    for (let i = 0; i < 3; i++) {
      const c = await SmtpClient.connect(port);
      open.push(c);
      t.equal(c.greeting.code, 220, `connection ${i + 1} greeted`);
    }
    const fourth = await SmtpClient.connect(port);
    open.push(fourth);
    t.equal(fourth.greeting.code, 421, `fourth connection: ${fourth.greeting.raw.join(' | ')}`);
    t.match(fourth.greeting.text, /^4\.7\.0 /);
    for (const c of open) await c.quit();
    await sleep(200);
    const again = await SmtpClient.connect(port);
    t.equal(again.greeting.code, 220, 'accepted again once the others closed');
    await again.quit();
  });

  await t.test('idleTimeoutMs: an idle client is dropped with 421', async (t) => {
    const c = await SmtpClient.connect(port, { timeoutMs: 5000 });
    t.teardown(() => c.close());
    await c.ehlo('idle.test');
    const started = Date.now();
    const r = await c.read(5000);
    const took = Date.now() - started;
    t.equal(r.code, 421, `idle session closed with 421: ${r.raw.join(' | ')}`);
    t.ok(took >= 1200 && took < 4000, `after about idleTimeoutMs (${took} ms)`);
    await c.closed;
  });
});
