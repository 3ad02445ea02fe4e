/*
 * test/e2e/submission-auth.test.ts — the `submission` listener: AUTH required, over real STARTTLS
 * (587) and implicit TLS (465) with the gateway's generated self-signed certificate; outbound mail
 * is delivered by MX lookup against a real DNS server (dnsmasq on loopback) to a second smtp-sink
 * acting as the remote MX; a null MX (RFC 7505) bounces with a DSN back to the sender.
 *
 * Users come from a users file made with `tuxhat user add ADDRESS --file F` (password on stdin),
 * as the postmaster guide says.
 */
import t from 'tap';
import { join } from 'node:path';
import { checkDsn, makeMessage, SmtpClient, startDns, startGateway, startSink, tempDir, tuxhat } from './harness/index.js';

const USER = 'alice@corp.test';
const PASSWORD = 'correct horse battery staple';

t.test('submission: AUTH required, outbound by MX lookup, null MX bounces', async (t) => {
  const dir = await tempDir(t, 'users');
  const usersFile = join(dir, 'users.yaml');
  const add = await tuxhat(['user', 'add', USER, '--file', usersFile], { input: `${PASSWORD}\n` });
  t.equal(add.code, 0, 'tuxhat user add exits 0', { output: add.stdout + add.stderr });
  t.notMatch(add.stdout + add.stderr, new RegExp(PASSWORD), 'the password is not echoed');
  const list = await tuxhat(['user', 'list', '--file', usersFile]);
  t.equal(list.stdout.trim(), USER, 'tuxhat user list shows the user');

  const remoteMx = await startSink(t, { hostname: 'mx.remote.test' }); // the internet's MX for remote.test
  const senderBox = await startSink(t); // corp.test's internal server: where DSNs to alice arrive
  const dns = await startDns(t, {
    mx: { 'remote.test': 'mx.remote.test', 'nullmx.test': { exchange: '.', priority: 0 } },
    a: { 'mx.remote.test': '127.0.0.1' },
  });
  const gw = await startGateway(t, {
    readyListener: 'submission',
    config: {
      hostname: 'gw.tuxhat.test',
      usersFile,
      listeners: {
        submission: { kind: 'submission' }, // tls: starttls is the default
        smtps: { kind: 'submission', tls: 'implicit' },
      },
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [senderBox.hostPort], tls: 'none' } } },
      dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 },
      outbound: { mode: 'mx', mxPort: remoteMx.port, tls: 'may' },
      queue: { scheduleMs: [1000] },
    },
  });
  const port = gw.ports['submission']!;
  t.ok(gw.logs().some((l) => /self-signed/.test(String(l.msg))), 'the self-signed certificate warning is logged');

  await t.test('without TLS: no AUTH offered, MAIL refused with 530', async (t) => {
    const c = await SmtpClient.connect(port);
    t.teardown(() => c.close());
    const ehlo = await c.ehlo('laptop.corp.test');
    t.ok(ehlo.lines.includes('STARTTLS'), 'STARTTLS offered');
    t.notOk(ehlo.lines.some((l) => /^AUTH\b/.test(l)), 'AUTH not offered in cleartext');
    const mail = await c.command(`MAIL FROM:<${USER}>`);
    t.equal(mail.code, 530, `MAIL refused: ${mail.raw.join(' | ')}`);
    const auth = await c.auth(USER, PASSWORD);
    t.ok(auth.code >= 500, `AUTH in cleartext refused: ${auth.raw.join(' | ')}`);
    await c.quit();
  });

  await t.test('with STARTTLS but without AUTH: MAIL refused with 530', async (t) => {
    const c = await SmtpClient.connect(port);
    t.teardown(() => c.close());
    await c.ehlo('laptop.corp.test');
    const tls = await c.startTls();
    t.equal(tls.code, 220, 'STARTTLS accepted');
    t.ok(c.tls, 'the connection is encrypted');
    const ehlo = await c.ehlo('laptop.corp.test');
    t.ok(ehlo.lines.some((l) => /^AUTH\b.*PLAIN/.test(l)), 'AUTH PLAIN offered after STARTTLS');
    const mail = await c.command(`MAIL FROM:<${USER}>`);
    t.equal(mail.code, 530, `MAIL refused: ${mail.raw.join(' | ')}`);
    t.match(mail.text, /^5\.7\.0 /, 'with 5.7.0 (authentication required)');
    const rcpt = await c.command('RCPT TO:<bob@remote.test>');
    t.ok(rcpt.code >= 500, 'RCPT refused too');
    await c.quit();
  });

  await t.test('wrong password and unknown user: 535', async (t) => {
    for (const [user, pass] of [[USER, 'wrong password'], ['mallory@corp.test', PASSWORD]] as const) {
      const c = await SmtpClient.connect(port);
      await c.ehlo('laptop.corp.test');
      await c.startTls();
      await c.ehlo('laptop.corp.test');
      const auth = await c.auth(user, pass);
      t.equal(auth.code, 535, `${user}: ${auth.raw.join(' | ')}`);
      t.match(auth.text, /^5\.7\.8 /);
      const mail = await c.command(`MAIL FROM:<${user}>`);
      t.equal(mail.code, 530, 'still unauthenticated');
      await c.quit();
    }
    await gw.waitForLog((l) => l.event === 'reject' && l['phase'] === 'auth' && l['user'] === 'mallory@corp.test', { what: 'the failed AUTH logged' });
    t.equal(gw.logs().filter((l) => l.event === 'reject' && l['phase'] === 'auth').length, 2, 'each failed AUTH is logged');
    t.notOk(JSON.stringify(gw.logs()).includes('wrong password'), 'passwords never logged');
  });

  const sendAuthenticated = async (client: SmtpClient, to: string, messageId: string) => {
    const auth = await client.auth(USER, PASSWORD);
    const res = await client.send({ from: USER, to: [to], message: makeMessage({ from: USER, to, messageId }) });
    return { auth, res };
  };

  await t.test('STARTTLS + AUTH: delivered to the remote MX found in DNS', async (t) => {
    const c = await SmtpClient.connect(port);
    t.teardown(() => c.close());
    await c.ehlo('laptop.corp.test');
    await c.startTls();
    await c.ehlo('laptop.corp.test');
    const { auth, res } = await sendAuthenticated(c, 'bob@remote.test', '<out-587@corp.test>');
    await c.quit();
    t.equal(auth.code, 235, `AUTH accepted: ${auth.raw.join(' | ')}`);
    t.ok(res.ok, `accepted: ${res.data?.raw.join(' | ')}`);
    t.match(res.data?.text ?? '', /^2\.0\.0 Ok: queued as [0-9A-Z]+$/);
    const [m] = await remoteMx.waitForMessages(1, 15_000);
    t.equal(m!.messageId, '<out-587@corp.test>', 'arrived at the remote MX');
    t.same(m!.rcptTo, ['bob@remote.test']);
    t.equal(m!.mailFrom, USER);
    t.match(m!.get('received') ?? '', /by gw\.tuxhat\.test \(TuxHat\) with ESMTPSA id /, 'Received says ESMTPSA (TLS + AUTH)');
    t.match(m!.get('received') ?? '', /using TLSv1\.[23] with cipher /, 'Received names the TLS version');
    t.ok(dns.queries().includes('MX remote.test'), `MX looked up in our DNS (${dns.queries().join(', ')})`);
    t.ok(dns.queries().includes('A mx.remote.test'), 'A of the MX host looked up');
    const delivered = await gw.waitForLog((l) => l.event === 'delivered' && l['to'] === 'bob@remote.test');
    t.match(String(delivered['relay']), new RegExp(`mx\\.remote\\.test.*${remoteMx.port}`), `relay names the MX host: ${String(delivered['relay'])}`);
  });

  await t.test('implicit TLS (465) + AUTH: delivered too', async (t) => {
    const c = await SmtpClient.connect(gw.ports['smtps']!, { tls: true });
    t.teardown(() => c.close());
    t.equal(c.greeting.code, 220);
    t.ok(c.tls);
    await c.ehlo('laptop.corp.test');
    const { auth, res } = await sendAuthenticated(c, 'carol@remote.test', '<out-465@corp.test>');
    await c.quit();
    t.equal(auth.code, 235);
    t.ok(res.ok, `accepted: ${res.data?.raw.join(' | ')}`);
    const all = await remoteMx.waitForMessages(2, 15_000);
    t.ok(all.some((m) => m.messageId === '<out-465@corp.test>'), 'arrived at the remote MX');
  });

  await t.test('null MX: bounced with a DSN back to the authenticated sender', async (t) => {
    const c = await SmtpClient.connect(port);
    t.teardown(() => c.close());
    await c.ehlo('laptop.corp.test');
    await c.startTls();
    await c.ehlo('laptop.corp.test');
    const { res } = await sendAuthenticated(c, 'nobody@nullmx.test', '<to-nullmx@corp.test>');
    await c.quit();
    t.ok(res.ok, 'accepted (the MX is looked up after the 250)');
    const qid = /queued as ([0-9A-Z]+)/.exec(res.data?.text ?? '')?.[1];
    const [dsn] = await senderBox.waitForMessages(1, 15_000);
    checkDsn(t, dsn!, { to: USER, failed: 'nobody@nullmx.test', status: /^5\.1\.10$/, originalId: '<to-nullmx@corp.test>' });
    const bounced = await gw.waitForLog((l) => l.event === 'bounced' && l.qid === qid);
    t.equal(bounced['dsn'], '5.1.10', 'bounced log line with 5.1.10');
    t.equal(remoteMx.count(), 2, 'nothing was sent to any MX for the null-MX domain');
  });
});
