/*
 * deliver/smtp-transport.ts (and smtp-session/smtp-client/pool under it) against real peers on
 * loopback: Postfix's smtp-sink, smtp-server instances with chosen replies, raw TCP servers.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import type { Config, TlsPolicy } from '../../../gateway/src/config/index.js';
import { createTransports, type Route } from '../../../gateway/src/deliver/index.js';
import { createResolver, type DnsResolver } from '../../../gateway/src/dns/index.js';
import { startDnsmasq, type Dnsmasq } from '../dns/fixtures/dnsmasq.js';
import { makeJob, silentLog, testConfig } from './fixtures/job.js';
import { closedPort, startRawServer, startSmtpd, startSmtpSink, type SmtpdOptions } from './fixtures/peers.js';

let dns: Dnsmasq;
let resolver: DnsResolver;

t.before(async () => {
  dns = await startDnsmasq(['--host-record=mail.corp.test,127.0.0.1']);
  resolver = createResolver({ ...testConfig().dns, servers: [dns.server], timeoutMs: 500, tries: 1 });
});
t.teardown(async () => {
  resolver.close();
  await dns.stop();
});

function transportFor(t: Test, route: Route, config: Config = testConfig()) {
  const transports = createTransports(config, resolver, silentLog);
  t.teardown(() => transports.close());
  return { transport: transports.forRoute(route), transports };
}

const smtpRoute = (hosts: string[], tls: TlsPolicy = 'may', auth?: { user: string; passwordFile: string }): Route =>
  ({ kind: 'smtp', key: `smtp:${hosts.join(',')}`, hosts, tls, ...(auth ? { auth } : {}) });

async function smtpd(t: Test, opts: SmtpdOptions = {}) {
  const s = await startSmtpd(opts);
  t.teardown(() => s.stop());
  return s;
}

t.test('delivers to smtp-sink: envelope, SIZE, body, relay and reply', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.stop());
  const route = smtpRoute([`127.0.0.1:${sink.port}`]);
  const { transport } = transportFor(t, route);
  const out = await transport.deliver(makeJob(route, ['a@corp.test', 'b@corp.test']));
  t.match(out, [
    { recipient: 'a@corp.test', status: 'delivered', dsn: '2.0.0', relay: `127.0.0.1[127.0.0.1]:${sink.port}`, response: /^250 / },
    { recipient: 'b@corp.test', status: 'delivered' },
  ]);
  const [msg] = await sink.messages();
  t.match(msg, /^X-Mail-Args: <sender@example\.net>/m);
  t.match(msg, /^X-Rcpt-Args: <a@corp\.test>$/m);
  t.match(msg, /^X-Rcpt-Args: <b@corp\.test>$/m);
  t.match(msg, /^X-Helo-Args: gw\.example\.test$/m);
  t.match(msg, /\nSubject: test\n\nHello\.\n\.dot line\n/, 'body intact, dot line survived stuffing');
});

t.test('null sender goes out as MAIL FROM:<>, 8BITMIME as BODY=8BITMIME', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.stop());
  const route = smtpRoute([`127.0.0.1:${sink.port}`], 'none');
  const { transport } = transportFor(t, route);
  const out = await transport.deliver(makeJob(route, ['a@corp.test'], { mailFrom: '', bodyType: '8bitmime' }));
  t.match(out, [{ status: 'delivered' }]);
  const [msg] = await sink.messages();
  t.match(msg, /^X-Mail-Args: <> .*BODY=8BITMIME/m);
});

t.test('failover: a refused connection or a 421 greeting moves on to the next host', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.stop());
  const busy = await startRawServer('421 4.3.2 Too busy, try later\r\n', true);
  t.teardown(() => busy.stop());
  const down = await closedPort();
  const route = smtpRoute([`127.0.0.1:${down}`, `[127.0.0.1]:${busy.port}`, `127.0.0.1:${sink.port}`]);
  const { transport } = transportFor(t, route);
  const out = await transport.deliver(makeJob(route, ['a@corp.test']));
  t.match(out, [{ status: 'delivered', relay: `127.0.0.1[127.0.0.1]:${sink.port}` }]);
  t.equal(busy.connections(), 1);
  t.equal((await sink.messages()).length, 1);
});

t.test('every host down: deferred with the last host\'s reason, never bounced', async (t) => {
  const p1 = await closedPort();
  const busy = await startRawServer('554 5.3.2 No service here\r\n', true);
  t.teardown(() => busy.stop());
  const route = smtpRoute([`[127.0.0.1]:${busy.port}`, `127.0.0.1:${p1}`]);
  const { transport } = transportFor(t, route);
  t.match(await transport.deliver(makeJob(route, ['a@corp.test', 'b@corp.test'])), [
    { recipient: 'a@corp.test', status: 'deferred', dsn: '4.4.1', response: `connect to 127.0.0.1[127.0.0.1]:${p1}: Connection refused`, relay: `127.0.0.1[127.0.0.1]:${p1}` },
    { recipient: 'b@corp.test', status: 'deferred', dsn: '4.4.1' },
  ]);
  const onlyBusy = smtpRoute([`127.0.0.1:${busy.port}`]);
  t.match(await transportFor(t, onlyBusy).transport.deliver(makeJob(onlyBusy, ['a@corp.test'])), [
    { status: 'deferred', dsn: '4.3.2', response: /refused to talk to me: 554 5\.3\.2 No service here/ },
  ], 'a 5xx greeting is softened (smtp_skip_5xx_greeting)');
});

t.test('a silent server: greeting timeout, deferred 4.4.2, quickly', async (t) => {
  const silent = await startRawServer(null);
  t.teardown(() => silent.stop());
  const route = smtpRoute([`127.0.0.1:${silent.port}`]);
  const { transport } = transportFor(t, route, testConfig({ delivery: { greetingTimeoutMs: 200 } }));
  const started = Date.now();
  t.match(await transport.deliver(makeJob(route, ['a@corp.test'])), [
    { status: 'deferred', dsn: '4.4.2', response: /timed out while receiving the initial server greeting/ },
  ]);
  t.ok(Date.now() - started < 1500, 'within the greeting timeout');
});

t.test('per-recipient replies: delivered, bounced with the remote code, deferred', async (t) => {
  const s = await smtpd(t, {
    rcpt: (a) => a.startsWith('bad') ? { code: 550, text: '5.1.1 No such user' }
      : a.startsWith('grey') ? { code: 450, text: '4.2.0 Greylisted' }
      : a.startsWith('plain') ? { code: 553, text: 'Rejected' } : null,
  });
  const route = smtpRoute([`127.0.0.1:${s.port}`]);
  const { transport } = transportFor(t, route);
  const out = await transport.deliver(makeJob(route, ['ok@corp.test', 'bad@corp.test', 'grey@corp.test', 'plain@corp.test']));
  t.match(out, [
    { recipient: 'ok@corp.test', status: 'delivered', dsn: '2.0.0' },
    { recipient: 'bad@corp.test', status: 'bounced', dsn: '5.1.1', response: `host 127.0.0.1[127.0.0.1] said: 550 5.1.1 No such user (in reply to RCPT TO command)` },
    { recipient: 'grey@corp.test', status: 'deferred', dsn: '4.2.0', response: /Greylisted \(in reply to RCPT TO command\)/ },
    { recipient: 'plain@corp.test', status: 'bounced', dsn: '5.0.0' },
  ]);
  t.same(s.mails[0]?.to, ['ok@corp.test']);
});

t.test('SIZE is declared when the server offers it', async (t) => {
  const s = await smtpd(t, { size: 1_000_000 });
  const route = smtpRoute([`127.0.0.1:${s.port}`]);
  const { transport } = transportFor(t, route);
  const job = makeJob(route, ['a@corp.test'], { size: 1234 });
  t.match(await transport.deliver(job), [{ status: 'delivered' }]);
  t.equal(s.mails[0]?.mailArgs.SIZE, '1234');
});

t.test('every recipient refused: their own replies, no DATA', async (t) => {
  const s = await smtpd(t, { rcpt: (a) => a.startsWith('bad') ? { code: 550, text: '5.1.1 No such user' } : { code: 452, text: '4.2.2 Mailbox full' } });
  const route = smtpRoute([`127.0.0.1:${s.port}`]);
  const { transport } = transportFor(t, route);
  t.match(await transport.deliver(makeJob(route, ['bad@corp.test', 'full@corp.test'])), [
    { status: 'bounced', dsn: '5.1.1' },
    { status: 'deferred', dsn: '4.2.2' },
  ]);
  t.equal(s.mails.length, 0);
});

t.test('a reply to the final dot applies to the accepted recipients only', async (t) => {
  const s = await smtpd(t, {
    rcpt: (a) => (a.startsWith('grey') ? { code: 450, text: '4.2.0 Greylisted' } : null),
    data: () => ({ code: 554, text: '5.7.1 Message content rejected' }),
  });
  const route = smtpRoute([`127.0.0.1:${s.port}`]);
  const { transport } = transportFor(t, route);
  t.match(await transport.deliver(makeJob(route, ['a@corp.test', 'grey@corp.test'])), [
    { recipient: 'a@corp.test', status: 'bounced', dsn: '5.7.1', response: /Message content rejected \(in reply to end of DATA command\)/ },
    { recipient: 'grey@corp.test', status: 'deferred', dsn: '4.2.0' },
  ]);
  const temp = await smtpd(t, { data: () => ({ code: 451, text: '4.3.0 Scanner unavailable' }) });
  const route2 = smtpRoute([`127.0.0.1:${temp.port}`]);
  t.match(await transportFor(t, route2).transport.deliver(makeJob(route2, ['a@corp.test'])), [{ status: 'deferred', dsn: '4.3.0' }]);
});

t.test('a refused MAIL FROM decides for every recipient (pipelined RCPTs ignored)', async (t) => {
  const s = await smtpd(t, { mail: () => ({ code: 451, text: '4.7.1 Sender temporarily blocked' }) });
  const route = smtpRoute([`127.0.0.1:${s.port}`]);
  const { transport } = transportFor(t, route);
  t.match(await transport.deliver(makeJob(route, ['a@corp.test', 'b@corp.test'])), [
    { status: 'deferred', dsn: '4.7.1', response: /in reply to MAIL FROM command/ },
    { status: 'deferred', dsn: '4.7.1' },
  ]);
  const hard = await smtpd(t, { mail: () => ({ code: 553, text: '5.1.8 Bad sender domain' }) });
  const route2 = smtpRoute([`127.0.0.1:${hard.port}`]);
  t.match(await transportFor(t, route2).transport.deliver(makeJob(route2, ['a@corp.test'])), [{ status: 'bounced', dsn: '5.1.8' }]);
});

t.test('connection lost after the final dot: deferred 4.4.2', async (t) => {
  const sink = await startSmtpSink(['-q', '.']);
  t.teardown(() => sink.stop());
  const route = smtpRoute([`127.0.0.1:${sink.port}`]);
  const { transport } = transportFor(t, route);
  t.match(await transport.deliver(makeJob(route, ['a@corp.test'])), [
    { status: 'deferred', dsn: '4.4.2', response: /lost connection with 127\.0\.0\.1\[127\.0\.0\.1\] while sending message/ },
  ]);
});

t.test('a body stream that stalls is cut by the socket timeout: deferred 4.4.2', async (t) => {
  const s = await smtpd(t);
  const route = smtpRoute([`127.0.0.1:${s.port}`]);
  const { transport } = transportFor(t, route, testConfig({ delivery: { socketTimeoutMs: 300 } }));
  const job = { ...makeJob(route, ['a@corp.test']), openBody: () => {
    const p = new PassThrough();
    p.write('Subject: stalled\r\n\r\n');
    return p;
  } };
  const started = Date.now();
  t.match(await transport.deliver(job), [{ status: 'deferred', dsn: '4.4.2', response: /timed out while sending message/ }]);
  t.ok(Date.now() - started < 2000);
  t.equal(s.mails.length, 0, 'nothing delivered');
});

t.test('too big for the server\'s SIZE: bounced 5.3.4 without sending', async (t) => {
  const s = await smtpd(t, { size: 20 });
  const route = smtpRoute([`127.0.0.1:${s.port}`]);
  const { transport } = transportFor(t, route);
  t.match(await transport.deliver(makeJob(route, ['a@corp.test'])), [
    { status: 'bounced', dsn: '5.3.4', response: /exceeds size limit 20 of server 127\.0\.0\.1\[127\.0\.0\.1\]/ },
  ]);
  t.equal(s.mails.length, 0);
});

t.test('sessions are reused (RSET) and the per-destination limit holds', async (t) => {
  const s = await smtpd(t, { dataDelayMs: 100 });
  const route = smtpRoute([`127.0.0.1:${s.port}`]);
  const { transport, transports } = transportFor(t, route, testConfig({ delivery: { maxConnectionsPerDestination: 1 } }));
  t.match(await transport.deliver(makeJob(route, ['a@corp.test'])), [{ status: 'delivered' }]);
  t.match(await transport.deliver(makeJob(route, ['b@corp.test'])), [{ status: 'delivered' }]);
  t.equal(s.connections(), 1, 'second message over the same connection');
  const jobs = await Promise.all(['c', 'd', 'e'].map((l) => transport.deliver(makeJob(route, [`${l}@corp.test`]))));
  t.ok(jobs.every((o) => o[0]?.status === 'delivered'));
  t.equal(s.maxConcurrent(), 1, 'never more than one session to the destination');
  t.equal(s.mails.length, 5);
  t.equal(new Set(s.mails.map((m) => m.sessionId)).size, 1);
  t.match(transports.stats(), { open: 1, idle: 1, waiting: 0 });

  const s2 = await smtpd(t, { dataDelayMs: 150 });
  const route2 = smtpRoute([`127.0.0.1:${s2.port}`]);
  const two = transportFor(t, route2, testConfig({ delivery: { maxConnectionsPerDestination: 2 } })).transport;
  await Promise.all(['a', 'b', 'c', 'd'].map((l) => two.deliver(makeJob(route2, [`${l}@corp.test`]))));
  t.equal(s2.maxConcurrent(), 2);
  t.equal(s2.connections(), 2);
});

t.test('a reused session the server closed meanwhile is replaced', async (t) => {
  const s = await smtpd(t, { socketTimeout: 300 });
  const route = smtpRoute([`127.0.0.1:${s.port}`]);
  const { transport } = transportFor(t, route);
  t.match(await transport.deliver(makeJob(route, ['a@corp.test'])), [{ status: 'delivered' }]);
  await new Promise((r) => setTimeout(r, 500)); // the server's idle timeout ends the session (421)
  t.match(await transport.deliver(makeJob(route, ['b@corp.test'])), [{ status: 'delivered' }]);
  t.equal(s.connections(), 2);
});

t.test('TLS policies', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.stop());
  const tlsd = await smtpd(t);
  const job = (r: Route) => makeJob(r, ['a@corp.test']);

  const encSink = smtpRoute([`127.0.0.1:${sink.port}`], 'encrypt');
  t.match(await transportFor(t, encSink).transport.deliver(job(encSink)), [
    { status: 'deferred', dsn: '4.7.4', response: /TLS is required, but host 127\.0\.0\.1\[127\.0\.0\.1\] refused to start TLS/ },
  ], 'encrypt: no STARTTLS offered → deferred');

  const maySink = smtpRoute([`127.0.0.1:${sink.port}`], 'may');
  t.match(await transportFor(t, maySink).transport.deliver(job(maySink)), [{ status: 'delivered' }], 'may: plaintext when not offered');

  const encTls = smtpRoute([`127.0.0.1:${tlsd.port}`], 'encrypt');
  t.match(await transportFor(t, encTls).transport.deliver(job(encTls)), [{ status: 'delivered' }], 'encrypt: unverified certificate is fine');
  t.equal(tlsd.mails.at(-1)?.secure, true);

  const mayTls = smtpRoute([`127.0.0.1:${tlsd.port}`], 'may');
  t.match(await transportFor(t, mayTls).transport.deliver(job(mayTls)), [{ status: 'delivered' }]);
  t.equal(tlsd.mails.at(-1)?.secure, true, 'may: STARTTLS used when offered');

  const verTls = smtpRoute([`127.0.0.1:${tlsd.port}`], 'verify');
  t.match(await transportFor(t, verTls).transport.deliver(job(verTls)), [
    { status: 'deferred', dsn: '4.7.5', response: /TLS handshake with 127\.0\.0\.1\[127\.0\.0\.1\] failed/ },
  ], 'verify: untrusted certificate → deferred');

  const noneTls = smtpRoute([`127.0.0.1:${tlsd.port}`], 'none');
  t.match(await transportFor(t, noneTls).transport.deliver(job(noneTls)), [{ status: 'delivered' }]);
  t.equal(tlsd.mails.at(-1)?.secure, false, 'none: STARTTLS ignored');
});

t.test('AUTH with the password file; no credentials over plaintext', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tuxhat-auth-'));
  const pwFile = join(dir, 'pw');
  await writeFile(pwFile, 's3cret\n', { mode: 0o600 });
  const authd = () => smtpd(t, {
    disabledCommands: [],
    allowInsecureAuth: true,
    authOptional: false,
    onAuth(auth, _s, cb) {
      if (auth.username === 'gw' && auth.password === 's3cret') cb(null, { user: 'gw' });
      else cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
  });
  const s = await authd();
  const ok = smtpRoute([`127.0.0.1:${s.port}`], 'none', { user: 'gw', passwordFile: pwFile });
  t.match(await transportFor(t, ok).transport.deliver(makeJob(ok, ['a@corp.test'])), [{ status: 'delivered' }]);
  t.equal(s.mails[0]?.user, 'gw', 'authenticated with the trimmed password');

  const overTls = smtpRoute([`127.0.0.1:${s.port}`], 'encrypt', { user: 'gw', passwordFile: pwFile });
  t.match(await transportFor(t, overTls).transport.deliver(makeJob(overTls, ['a@corp.test'])), [{ status: 'delivered' }]);

  await writeFile(pwFile, 'wrong\n');
  t.match(await transportFor(t, ok).transport.deliver(makeJob(ok, ['a@corp.test'])), [
    { status: 'deferred', dsn: '4.7.8', response: /SASL authentication failed; server 127\.0\.0\.1\[127\.0\.0\.1\] said: 535/ },
  ]);

  const noTls = await authd.call(null).then(async (plain) => {
    await plain.stop();
    return smtpd(t, { disabledCommands: [], hideSTARTTLS: true, allowInsecureAuth: true, onAuth: (_a, _s, cb) => cb(null, { user: 'x' }) });
  });
  const may = smtpRoute([`127.0.0.1:${noTls.port}`], 'may', { user: 'gw', passwordFile: pwFile });
  t.match(await transportFor(t, may).transport.deliver(makeJob(may, ['a@corp.test'])), [
    { status: 'deferred', dsn: '4.7.0', response: /refusing to send credentials .* without TLS/ },
  ]);
  t.equal(noTls.mails.length, 0);

  const missing = smtpRoute([`127.0.0.1:${s.port}`], 'none', { user: 'gw', passwordFile: join(dir, 'nope') });
  t.match(await transportFor(t, missing).transport.deliver(makeJob(missing, ['a@corp.test'])), [
    { status: 'deferred', dsn: '4.3.5', response: /cannot read the SMTP password file .*ENOENT/ },
  ]);
});

t.test('SMTPUTF8: requested when the message needs it; refused UTF-8 addresses bounce 5.6.7', async (t) => {
  const s = await smtpd(t);
  const route = smtpRoute([`127.0.0.1:${s.port}`]);
  const { transport } = transportFor(t, route);
  t.match(await transport.deliver(makeJob(route, ['a@corp.test'], { smtpUtf8: true })), [{ status: 'delivered' }]);
  t.equal(s.mails[0]?.mailArgs.SMTPUTF8, true, 'ASCII envelope, UTF-8 headers: SMTPUTF8 sent');
  t.match(await transport.deliver(makeJob(route, ['a@corp.test'], { smtpUtf8: false })), [{ status: 'delivered' }]);
  t.equal(s.mails[1]?.mailArgs.SMTPUTF8, undefined, 'not sent when not asked for (session reused)');
  t.match(await transport.deliver(makeJob(route, ['jörg@corp.test'], { smtpUtf8: true })), [{ status: 'delivered' }]);
  t.same(s.mails[2]?.to, ['jörg@corp.test']);

  const old = await smtpd(t, { hideSMTPUTF8: true });
  const route2 = smtpRoute([`127.0.0.1:${old.port}`]);
  t.match(await transportFor(t, route2).transport.deliver(makeJob(route2, ['jörg@corp.test'], { smtpUtf8: true })), [
    { status: 'bounced', dsn: '5.6.7', response: /SMTPUTF8 is required, but was not offered by host/ },
  ]);
  t.equal(old.mails.length, 0);
});

t.test('next hops by name resolve through dns/; a name that does not resolve defers', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.stop());
  const named = smtpRoute([`mail.corp.test:${sink.port}`]);
  const { transport } = transportFor(t, named);
  t.match(await transport.deliver(makeJob(named, ['a@corp.test'])), [{ status: 'delivered', relay: `mail.corp.test[127.0.0.1]:${sink.port}` }]);
  const local = smtpRoute([`localhost:${sink.port}`]);
  t.match(await transportFor(t, local).transport.deliver(makeJob(local, ['a@corp.test'])), [{ status: 'delivered', relay: `localhost[127.0.0.1]:${sink.port}` }]);
  const missing = smtpRoute([`nowhere.corp.test:${sink.port}`]);
  t.match(await transportFor(t, missing).transport.deliver(makeJob(missing, ['a@corp.test'])), [
    { status: 'deferred', dsn: '4.4.3', response: /name=nowhere\.corp\.test type=A: Host not found/ },
  ]);
  const none = smtpRoute([]);
  t.match(await transportFor(t, none).transport.deliver(makeJob(none, ['a@corp.test'])), [{ status: 'deferred', response: /no next hop configured/ }]);
});

t.test('after close, jobs are deferred, not lost', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.stop());
  const route = smtpRoute([`127.0.0.1:${sink.port}`]);
  const { transport, transports } = transportFor(t, route);
  await transports.close();
  t.match(await transport.deliver(makeJob(route, ['a@corp.test'])), [{ status: 'deferred', dsn: '4.3.2' }]);
});
