/*
 * test/e2e/policy-lists.test.ts — issue 5 session policy through the real daemon: a dnsmasq
 * serving a DNSBL zone with several return codes, a DNSWL and PTR records; clients speaking
 * from different loopback addresses (127.0.0.x) so they are listed differently; a real Postfix
 * with mailbox users as the internal server for recipient callouts.
 */
import t from 'tap';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeMessage, startDns, startGateway, startPostfix, startSink, tempDir, waitFor } from './harness/index.js';
import { talkFrom } from './fixtures/talk-from.js';

const rrA = (name: string, ip: string) => ({ name, type: 1, hex: ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('') });

const SENDER_DOMAINS = ['client.test', 'spam.test', 'rival.test', 'meh.test', 'partner.test'];

t.test('session policy through the daemon', async (t) => {
  const dns = await startDns(t, {
    mx: Object.fromEntries(SENDER_DOMAINS.map((d) => [d, `mail.${d}`])),
    a: {
      ...Object.fromEntries(SENDER_DOMAINS.map((d, i) => [`mail.${d}`, `192.0.2.${10 + i}`])),
      'host4.dyn.example.net': '127.0.0.4',
      'mismatch.example.net': '192.0.2.99',
    },
    ptr: { '127.0.0.4': 'host4.dyn.example.net', '127.0.0.5': 'mismatch.example.net' },
    rr: [
      // 127.0.0.2: bl.test 127.0.0.2 (*3) and 127.0.0.20 (*1), combo.test 127.0.0.4 (*2): sum 6
      rrA('2.0.0.127.bl.test', '127.0.0.2'), rrA('2.0.0.127.bl.test', '127.0.0.20'), rrA('2.0.0.127.combo.test', '127.0.0.4'),
      // 127.0.0.3: bl.test 127.0.0.3 (*3), combo.test 127.0.0.3 (no match), wl.test (*-1): sum 2
      rrA('3.0.0.127.bl.test', '127.0.0.3'), rrA('3.0.0.127.combo.test', '127.0.0.3'), rrA('3.0.0.127.wl.test', '127.0.0.1'),
    ],
  });
  const sink = await startSink(t);
  const postfix = await startPostfix(t, { mailbox: { domains: ['verify.test'], users: ['alice@verify.test'] } });
  const route = { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' };
  const gw = await startGateway(t, {
    config: {
      hostname: 'gw.tuxhat.test',
      listeners: {
        mx: { kind: 'mx', tls: 'none', maxRecipients: 4 },
        slow: { kind: 'mx', tls: 'none', greetDelayMs: 1500 },
      },
      dns: { servers: [dns.server], negativeTtlSeconds: 0, maxTtlSeconds: 0 },
      authentication: { enabled: false },
      domains: {
        'corp.test': { route },
        'static.test': { route },
        'verify.test': { route: { transport: 'smtp', hosts: [postfix.hostPort], tls: 'none' } },
      },
      policy: {
        access: {
          global: {
            clients: [{ match: '*.dyn.example.net', action: 'deny', reply: 'dynamic address space, use your provider' }],
            senders: [{ match: 'spam.test', action: 'deny', reply: 'no spam here' }, { match: 'meh.test', action: 'score', score: 3.5 }],
            recipients: [{ match: 'closed@corp.test', action: 'deny' }],
          },
          domains: { 'corp.test': { senders: [{ match: '*.rival.test', action: 'deny' }, { match: 'rival.test', action: 'deny' }] } },
          users: {
            'boss@corp.test': { senders: [{ match: 'spam.test', action: 'allow' }] },
            'vip@corp.test': { clients: [{ match: '127.0.0.2', action: 'allow' }] },
          },
        },
        dnsbl: { zones: ['bl.test=127.0.0.[2..11]*3', 'bl.test=127.0.0.20', 'combo.test=127.0.0.[2;4]*2', 'wl.test*-1'], threshold: 5, rejectAt: 'rcpt' },
        hygiene: { checkPtr: true, heloInvalid: 'reject', heloOurs: 'reject', maxErrors: 6, maxUnknownCommands: 3 },
        recipientVerification: {
          domains: { 'static.test': { method: 'static', users: ['carol'] }, 'verify.test': { method: 'callout' } },
          timeoutMs: 3000,
        },
        senderVerification: { enabled: true },
      },
    },
  });
  const mx = gw.ports['mx']!;
  const send = (from: string, ip: string, rcpts: string[], extra: { helo?: string; id?: string } = {}) => talkFrom(mx, ip, [
    `EHLO ${extra.helo ?? 'client.test'}`, `MAIL FROM:<${from}>`, ...rcpts.map((r) => `RCPT TO:<${r}>`),
    ...(extra.id ? ['DATA', { raw: makeMessage({ messageId: extra.id, from, to: rcpts }).replace(/\r?\n/g, '\r\n') + '.\r\n' }] : []), 'QUIT',
  ]);
  const queuedSymbols = async (id: string) => {
    const l = await gw.waitForLog((x) => x.event === 'queued' && x['msgid'] === id, { what: `queued ${id}` });
    return (l['symbols'] as string[]).join(' ');
  };

  await t.test('DNSBL: weights per zone and return code are summed; the threshold rejects at RCPT; a user allow wins', async (t) => {
    const r = await send('a@client.test', '127.0.0.2', ['user@corp.test', 'vip@corp.test'], { id: '<dnsbl-2@client.test>' });
    t.match(r[3], /^554 5\.7\.1 Service unavailable; client host blocked by DNS blocklists: \[127\.0\.0\.2\]/);
    t.match(r[3], /bl\.test=127\.0\.0\.2\(\+3\)/);
    t.match(r[3], /combo\.test=127\.0\.0\.4\(\+2\)/);
    t.match(r[4], /^250 /, 'vip@corp.test allows 127.0.0.2');
    const syms = await queuedSymbols('<dnsbl-2@client.test>');
    t.match(syms, /DNSBL_SUM\(6\)/, '3 + 1 + 2');
    t.match(syms, /ACCESS_ALLOW\(-5\)/, 'the allow is visible to the verdict');
    const r3 = await send('a@client.test', '127.0.0.3', ['user@corp.test'], { id: '<dnsbl-3@client.test>' });
    t.match(r3[3], /^250 /, 'sum 2 is below the threshold');
    t.match(await queuedSymbols('<dnsbl-3@client.test>'), /DNSBL_SUM\(2\)/, '3 - 1 (DNSWL); combo.test=127.0.0.3 does not match its filter');
  });

  await t.test('access lists: deny with the reply text, allow and score at each level', async (t) => {
    const spam = await send('x@spam.test', '127.0.0.1', ['user@corp.test', 'boss@corp.test'], { id: '<acl-1@spam.test>' });
    t.match(spam[3], /^550 5\.7\.1 Access denied: no spam here/, 'global sender deny');
    t.match(spam[4], /^250 /, 'boss@corp.test welcomes spam.test: user beats global');
    t.match(await queuedSymbols('<acl-1@spam.test>'), /ACCESS_ALLOW/);
    const rival = await send('x@rival.test', '127.0.0.1', ['user@corp.test', 'user@static.test', 'carol@static.test']);
    t.match(rival[3], /^550 5\.7\.1 Access denied: <user@corp\.test>/, 'domain-level sender deny');
    t.match(rival[5], /^250 /, 'the corp.test list does not apply to static.test');
    const closed = await send('a@client.test', '127.0.0.1', ['closed@corp.test']);
    t.match(closed[3], /^550 5\.7\.1 Access denied/, 'global recipient deny');
    const meh = await send('a@meh.test', '127.0.0.1', ['user@corp.test'], { id: '<acl-2@meh.test>' });
    t.match(meh[3], /^250 /);
    t.match(await queuedSymbols('<acl-2@meh.test>'), /ACCESS_SCORE\(3\.5\)/, 'score entry with its own score');
    const dyn = await send('a@client.test', '127.0.0.4', ['user@corp.test']);
    t.match(dyn[3], /^550 5\.7\.1 Access denied: dynamic address space, use your provider/, 'PTR pattern on the forward-confirmed name');
  });

  await t.test('reverse DNS scores: none and mismatch', async (t) => {
    await send('a@client.test', '127.0.0.5', ['user@corp.test'], { id: '<ptr-5@client.test>' });
    t.match(await queuedSymbols('<ptr-5@client.test>'), /RDNS_MISMATCH/);
    await send('a@client.test', '127.0.0.6', ['user@corp.test'], { id: '<ptr-6@client.test>' });
    t.match(await queuedSymbols('<ptr-6@client.test>'), /RDNS_NONE/);
  });

  await t.test('HELO checks: invalid syntax and our own name are refused at MAIL', async (t) => {
    const bad = await send('a@client.test', '127.0.0.1', ['user@corp.test'], { helo: 'localhost' });
    t.match(bad[2], /^550 5\.5\.2 Helo command rejected: invalid hostname: <localhost>/);
    const ip = await send('a@client.test', '127.0.0.1', ['user@corp.test'], { helo: '127.0.0.1' });
    t.match(ip[2], /^550 5\.5\.2 .*bare IP/);
    const ours = await send('a@client.test', '127.0.0.1', ['user@corp.test'], { helo: 'gw.tuxhat.test' });
    t.match(ours[2], /^550 5\.7\.1 Helo command rejected: that is my name/);
    const lit = await send('a@client.test', '127.0.0.1', ['user@corp.test'], { helo: '[127.0.0.1]' });
    t.match(lit[2], /^550 5\.7\.1 /, 'our own address literal');
  });

  await t.test('sender verification: a domain without MX or A is refused', async (t) => {
    const r = await send('a@nx-domain.test', '127.0.0.1', ['user@corp.test']);
    t.match(r[2], /^550 5\.1\.8 Sender address rejected: Domain not found: <a@nx-domain\.test>/);
  });

  await t.test('recipient verification: static list and callout to Postfix, cached; Postfix down → 450', async (t) => {
    const s = await send('a@client.test', '127.0.0.1', ['carol@static.test', 'dave@static.test']);
    t.match(s[3], /^250 /);
    t.match(s[4], /^550 5\.1\.1 Recipient address rejected: User unknown: <dave@static\.test>/);
    const c = await send('a@client.test', '127.0.0.1', ['alice@verify.test', 'nobody@verify.test']);
    t.match(c[3], /^250 /, 'Postfix knows alice');
    t.match(c[4], /^550 5\.1\.1 /, 'Postfix rejects nobody');
    t.match(await postfix.log(), /nobody@verify\.test/, 'the callout reached Postfix');
    await postfix.stop();
    const d = await send('a@client.test', '127.0.0.1', ['alice@verify.test', 'nobody@verify.test', 'bob@verify.test']);
    t.match(d[3], /^250 /, 'positive answer cached');
    t.match(d[4], /^550 5\.1\.1 /, 'negative answer cached');
    t.match(d[5], /^450 4\.4\.1 Recipient address verification failed/, 'unknown and the server is down: 450');
  });

  await t.test('SMTP smuggling: bare LF end-of-data variants are refused and nothing is delivered', async (t) => {
    sink.clear();
    for (const [i, tail] of ['\n.\n', '\r.\n', '\n.\r\n'].entries()) {
      const smuggled = `Subject: a\r\nMessage-ID: <smuggle-${i}@client.test>\r\n\r\nhello${tail}MAIL FROM:<ceo@corp.test>\r\nRCPT TO:<user@corp.test>\r\nDATA\r\nSubject: forged\r\n\r\nforged\r\n.\r\n`;
      const r = await talkFrom(mx, '127.0.0.1', ['EHLO client.test', 'MAIL FROM:<a@client.test>', 'RCPT TO:<user@corp.test>', 'DATA', { raw: smuggled }, 'QUIT']);
      t.match(r[5], /^550 5\.5\.2 Message rejected: bare <LF> or <CR>/, JSON.stringify(tail));
    }
    const ok = await send('a@client.test', '127.0.0.1', ['user@corp.test'], { id: '<clean@client.test>' });
    t.match(ok[5], /^250 /);
    const msgs = await sink.waitForMessages(1);
    t.same(msgs.map((m) => m.messageId), ['<clean@client.test>'], 'only the clean message reached the internal server');
  });

  await t.test('early talker, unknown commands, too many recipients, too many errors', async (t) => {
    const early = await talkFrom(gw.ports['slow']!, '127.0.0.1', [{ early: 'EHLO client.test\r\n' }, 'QUIT']);
    t.match(early[0], /^421 .*You talk too soon/);
    const patient = await talkFrom(gw.ports['slow']!, '127.0.0.1', ['QUIT']);
    t.match(patient[0], /^220 /, 'a client that waits is greeted');
    const unknown = await talkFrom(mx, '127.0.0.1', ['EHLO client.test', 'FOO', 'BAR', 'BAZ', 'NOOP']);
    t.match(unknown[4], /^421 4\.7\.0 Too many unrecognized commands/);
    t.equal(unknown.length, 5, 'closed after the 421');
    const rcpts = await send('a@client.test', '127.0.0.1', ['u1@corp.test', 'u2@corp.test', 'u3@corp.test', 'u4@corp.test', 'u5@corp.test']);
    t.match(rcpts[7], /^452 /, 'the fifth recipient is over maxRecipients (4)');
    const errs = await talkFrom(mx, '127.0.0.1', ['EHLO client.test', 'MAIL FROM:<a@client.test>', ...Array.from({ length: 8 }, (_, i) => `RCPT TO:<x${i}@elsewhere.test>`)]);
    t.match(errs[8], /^550 5\.7\.1 Relay access denied/, 'the sixth error');
    t.match(errs[9], /^421 4\.7\.0 Too many errors/, 'is followed by 421');
    t.equal(errs.length, 10, 'and the connection is closed');
  });
});

t.test('DNSBL reject at connect (554 instead of the greeting)', async (t) => {
  const dns = await startDns(t, { rr: [rrA('2.0.0.127.bl.test', '127.0.0.2')] });
  const gw = await startGateway(t, {
    config: {
      dns: { servers: [dns.server] },
      policy: { dnsbl: { zones: ['bl.test=127.0.0.[2..11]*3'], threshold: 3, rejectAt: 'connect' }, hygiene: { rejectBareLf: false } },
    },
  });
  const listed = await talkFrom(gw.ports['mx']!, '127.0.0.2', ['QUIT']);
  t.match(listed[0], /^554 5\.7\.1 Service unavailable; client host blocked by DNS blocklists: \[127\.0\.0\.2\] bl\.test=127\.0\.0\.2\(\+3\)/);
  const clean = await talkFrom(gw.ports['mx']!, '127.0.0.1', ['QUIT']);
  t.match(clean[0], /^220 /);

  await t.test('what smtp-server itself does with <LF>.<LF> (rejectBareLf off): it is body, not end of data', async (t) => {
    const smuggled = 'Subject: a\r\n\r\nhello\n.\nMAIL FROM:<ceo@example.test>\r\nRCPT TO:<user@example.test>\r\nDATA\r\nforged\r\n.\r\n';
    const r = await talkFrom(gw.ports['mx']!, '127.0.0.1', ['EHLO client.test', 'MAIL FROM:<a@client.test>', 'RCPT TO:<user@example.test>', 'DATA', { raw: smuggled }, 'QUIT']);
    t.match(r[5], /^250 2\.0\.0 Ok: queued as/, 'one message, ended only by <CRLF>.<CRLF>');
    t.match(r[6], /^221 /, 'the smuggled MAIL/RCPT/DATA were never run as commands');
    t.equal(r.length, 7);
  });
});

t.test('sender verification on a DNS timeout answers 450 4.1.8', async (t) => {
  // A UDP socket that never answers: every query times out.
  const blackhole = createSocket('udp4');
  await new Promise<void>((r) => blackhole.bind(0, '127.0.0.1', r));
  t.teardown(() => blackhole.close());
  const gw = await startGateway(t, {
    config: {
      dns: { servers: [`127.0.0.1:${blackhole.address().port}`], timeoutMs: 1500, tries: 1 },
      authentication: { enabled: false },
      policy: { senderVerification: { enabled: true }, dnsbl: { zones: ['bl.test*5'] }, hygiene: { checkPtr: true } },
    },
  });
  // The DNSBL and PTR look-ups start at connect but the greeting does not wait for them.
  const started = Date.now();
  const greeting = await talkFrom(gw.ports['mx']!, '127.0.0.1', []);
  t.match(greeting[0], /^220 /);
  t.ok(Date.now() - started < 1000, `greeted in ${Date.now() - started} ms although DNS needs 1500 ms to time out`);
  const r = await talkFrom(gw.ports['mx']!, '127.0.0.1', ['EHLO client.test', 'MAIL FROM:<a@slow.test>', 'QUIT']);
  t.match(r[2], /^450 4\.1\.8 Sender address verification failed: DNS lookup failed, try again later: <a@slow\.test>/);
  const nul = await talkFrom(gw.ports['mx']!, '127.0.0.1', ['EHLO client.test', 'MAIL FROM:<>', 'QUIT']);
  t.match(nul[2], /^250 /, 'the null sender is not verified');
});

t.test('access list files are read again on reload; a broken one is refused and the old lists stay', async (t) => {
  const dir = await tempDir(t, 'acl-');
  const file = join(dir, 'access.yaml');
  writeFileSync(file, 'global:\n  senders:\n    - { match: old.test, action: deny, reply: old list }\n');
  const config = { policy: { access: { files: [file] } } };
  const gw = await startGateway(t, { config });
  const mailFrom = async (from: string) => (await talkFrom(gw.ports['mx']!, '127.0.0.1', ['EHLO client.test', `MAIL FROM:<${from}>`, 'RCPT TO:<user@example.test>', 'QUIT']))[3]!;
  t.match(await mailFrom('a@old.test'), /^550 5\.7\.1 Access denied: old list/);
  t.match(await mailFrom('b@new.test'), /^250 /);
  writeFileSync(file, 'global:\n  senders:\n    - { match: new.test, action: deny, reply: new list }\n');
  await gw.reload(config);
  await waitFor(async () => /^550 5\.7\.1 Access denied: new list/.test(await mailFrom('b@new.test')), { timeoutMs: 20_000, intervalMs: 250, what: 'the new list after reload' });
  t.match(await mailFrom('a@old.test'), /^250 /, 'the old entry is gone');
  writeFileSync(file, 'global:\n  senders:\n    - { match: x.test, action: maybe }\n');
  await gw.reload(config);
  const refused = await gw.waitForLog((l) => l.event === 'reload' && l['ok'] === false, { what: 'reload refused' });
  t.match(String(refused['err']), /access\.files\[0\]: .*access\.yaml: global\.senders\.0\.action/);
  t.match(await mailFrom('b@new.test'), /^550 5\.7\.1 Access denied: new list/, 'the running lists stay');
});

t.test('sender callout: the sender domain MX (a real Postfix) is asked; cached; unreachable → 450', async (t) => {
  const postfix = await startPostfix(t, { mailbox: { domains: ['sender.test'], users: ['real@sender.test'] } });
  const dns = await startDns(t, { mx: { 'sender.test': 'mx.sender.test' }, a: { 'mx.sender.test': '127.0.0.1' } });
  const gw = await startGateway(t, {
    config: {
      dns: { servers: [dns.server] },
      authentication: { enabled: false },
      policy: { senderVerification: { enabled: true, callout: true, calloutPort: postfix.port } },
    },
  });
  const mailFrom = async (from: string) => (await talkFrom(gw.ports['mx']!, '127.0.0.1', ['EHLO client.test', `MAIL FROM:<${from}>`, 'QUIT']))[2]!;
  t.match(await mailFrom('real@sender.test'), /^250 /);
  t.match(await mailFrom('fake@sender.test'), /^550 5\.1\.7 Sender address rejected: undeliverable address: <fake@sender\.test>/);
  t.match(await postfix.log(), /fake@sender\.test/, 'Postfix was asked');
  await postfix.stop();
  t.match(await mailFrom('real@sender.test'), /^250 /, 'positive answer cached');
  t.match(await mailFrom('fake@sender.test'), /^550 5\.1\.7 /, 'negative answer cached');
  t.match(await mailFrom('other@sender.test'), /^450 4\.1\.7 Sender address verification failed/, 'the MX cannot be asked: 450');
});
