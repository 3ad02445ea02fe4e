/*
 * test/e2e/spam-scoring.test.ts — spam scoring through the real daemon (issue 4): the Bayes
 * store trained with `tuxhat learn` (mbox and maildir) in the running gateway's state
 * directory, then: GTUBE refused 550 5.7.1 in the session; a spam the model learned the kind of
 * arrives at the internal server tagged (X-Spam-Status/Score/Symbols, subject tag); a ham
 * arrives untagged, and a forged X-Spam-Status from the sender is removed; the same spam sent
 * outbound (relay listener) meets the outbound thresholds, which reject it. `tuxhat scan --json`
 * judges files the same way without the daemon; `tuxhat learn` does not count a message twice.
 * SpamAssassin's rules (rules/spamassassin/rules.yaml) score header and body patterns on an
 * untrained gateway: SA_* symbols with SpamAssassin's scores in X-Spam-Symbols and the log.
 */
import t from 'tap';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { makeMessage, SmtpClient, startGateway, startSink, tempDir, tuxhat, type Cleanup } from './harness/index.js';
import { corpusMessage, writeMaildir, writeMbox } from './harness/spam-corpus.js';

const GTUBE = ['XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE', 'STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'].join('-');

async function send(port: number, from: string, to: string, message: string) {
  const c = await SmtpClient.connect(port);
  try {
    await c.ehlo('client.test');
    return await c.send({ from, to: [to], message });
  } finally {
    await c.quit().catch(() => undefined);
  }
}

/** A gateway that routes corp.test to a fresh sink, sender authentication off: these tests are about the spam score. */
async function gatewayToSink(t: Cleanup, config: Record<string, unknown>) {
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      hostname: 'gw.tuxhat.test',
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } } },
      authentication: { enabled: false },
      ...config,
    },
  });
  return { sink, gw };
}

t.test('trained Bayes, thresholds per class of service and direction, scan and learn CLI', async (t) => {
  const dir = await tempDir(t, 'spam');
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    readyListener: 'mx',
    config: {
      hostname: 'gw.tuxhat.test',
      listeners: { mx: { kind: 'mx', tls: 'none' }, relay: { kind: 'relay', tls: 'none', trustedNetworks: ['127.0.0.1/32'] } },
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } } },
      authentication: { enabled: false },
      // No spamscanner threads here (each loads ~180 MB for seconds); the unit and scan tests cover them.
      spam: { features: { enabled: false } },
      classes: {
        // Below the shipped tag threshold (5): a Bayes of 95–99 % scores 4.0 (rules/scores/spam.yaml), and
        // these messages are synthetic, with little else to score. The thresholds are what is tested here.
        default: { inbound: { tag: 3, quarantine: 10, reject: 15, subjectTag: '[SPAM] ' }, outbound: { tag: null, quarantine: null, reject: 3 } },
      },
    },
  });
  const state = join(gw.dir, 'state');

  // Train: 60 spam from an mbox, 60 ham from a maildir, into the running gateway's state.
  writeMbox(join(dir, 'spam.mbox'), 'spam', 0, 60);
  writeMaildir(join(dir, 'ham'), 'ham', 0, 60);
  let r = await tuxhat(['learn', 'spam', '--state', state, join(dir, 'spam.mbox')]);
  t.equal(r.code, 0, 'learn spam', { out: r.stdout + r.stderr });
  t.match(r.stdout, /learned 60 as spam, moved 0 from the other class, 0 already known; global now holds 60 spam and 0 ham/);
  r = await tuxhat(['learn', 'ham', '--state', state, join(dir, 'ham')]);
  t.equal(r.code, 0, 'learn ham', { out: r.stdout + r.stderr });
  t.match(r.stdout, /learned 60 as ham, .*60 spam and 60 ham/);
  r = await tuxhat(['learn', 'ham', '--state', state, join(dir, 'ham')]);
  t.match(r.stdout, /learned 0 as ham, moved 0 from the other class, 60 already known; global now holds 60 spam and 60 ham/, 'learning again counts nothing twice');

  // scan --json on files the model has not seen, and GTUBE; a directory means every file in it.
  const files = { spam: join(dir, 'new-spam.eml'), ham: join(dir, 'new-ham.eml'), gtube: join(dir, 'gtube.eml'), features: join(dir, 'features.eml') };
  writeFileSync(files.spam, corpusMessage('spam', 500));
  writeFileSync(files.ham, corpusMessage('ham', 500));
  writeFileSync(files.gtube, makeMessage({ subject: 'gtube', body: `test\r\n${GTUBE}\r\n` }));
  // spamscanner's features (scan loads its thread and waits for it): an IDN homograph link and an executable.
  writeFileSync(files.features, [
    'From: billing@shop.test', 'To: user@corp.test', 'Subject: your invoice', 'Message-ID: <features@shop.test>', 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary=B', '', '--B', 'Content-Type: text/plain; charset=utf-8', '',
    'Log in at https://xn--pple-43d.com/account to see it.', '--B',
    'Content-Type: application/octet-stream; name="invoice.pdf.exe"', 'Content-Disposition: attachment; filename="invoice.pdf.exe"',
    'Content-Transfer-Encoding: base64', '', 'TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=', '--B--', '',
  ].join('\r\n'));
  r = await tuxhat(['scan', '--json', '--state', state, files.spam, files.ham, files.gtube, files.features]);
  t.equal(r.code, 0, 'scan', { out: r.stderr });
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; score: number; action: string; isSpam: boolean; symbols: Array<{ name: string; score: number }> });
  t.equal(lines.length, 4, 'one JSON line per message');
  const [spamLine, hamLine, gtubeLine, featuresLine] = lines;
  const names = featuresLine!.symbols.map((s) => s.name);
  for (const n of ['SPAMSCANNER_IDN_HOMOGRAPH', 'SPAMSCANNER_EXECUTABLE', 'ATTACH_EXECUTABLE', 'ATTACH_DOUBLE_EXTENSION']) t.ok(names.includes(n), `features: ${n}`, { names });
  t.match(spamLine, { file: files.spam, action: 'tag', isSpam: true });
  t.ok(spamLine!.symbols.some((s) => s.name === 'BAYES_SPAM_99' && s.score > 0), 'Bayes says spam, with its score');
  t.match(hamLine, { file: files.ham, action: 'deliver', isSpam: false });
  t.ok(hamLine!.symbols.some((s) => s.name === 'BAYES_HAM_05' && s.score < 0));
  t.match(gtubeLine, { action: 'reject', isSpam: true });
  t.ok(gtubeLine!.symbols.some((s) => s.name === 'SPAM_GTUBE'));

  // GTUBE through the daemon: refused in the session, nothing delivered.
  const gtube = await send(gw.ports['mx']!, 'a@client.test', 'user@corp.test', makeMessage({ messageId: '<gtube@client.test>', body: `hello\r\n${GTUBE}\r\n` }));
  t.equal(gtube.data?.code, 550, 'GTUBE: 550');
  t.match(gtube.data?.raw.join(' '), /5\.7\.1 Message rejected as spam/);

  // A spam of the trained kind: delivered tagged.
  const spam = await send(gw.ports['mx']!, 'promo@offers.test', 'user@corp.test', corpusMessage('spam', 501));
  t.ok(spam.ok, `spam accepted: ${spam.data?.raw.join(' ')}`);
  // A ham, with a forged X-Spam-Status the sender hoped we would keep.
  const hamMsg = corpusMessage('ham', 501).replace('MIME-Version:', 'X-Spam-Status: No, score=-100\r\nMIME-Version:');
  const ham = await send(gw.ports['mx']!, 'colleague@partner.test', 'user@corp.test', hamMsg);
  t.ok(ham.ok, 'ham accepted');
  const got = await sink.waitForMessages(2, 15_000);
  const spamIn = got.find((m) => m.messageId === '<spam-501@corpus.test>')!;
  const hamIn = got.find((m) => m.messageId === '<ham-501@corpus.test>')!;
  t.ok(spamIn && hamIn, 'both delivered');
  t.match(spamIn.get('x-spam-status'), /^Yes, score=\d+\.\d required=3\.0 class=default action=tag$/);
  t.ok(Number(spamIn.get('x-spam-score')) >= 3, 'X-Spam-Score at or above the tag threshold');
  t.match(spamIn.get('x-spam-symbols'), /BAYES_SPAM_99\(5\)/);
  t.match(spamIn.get('subject'), /^\[SPAM\] /, 'subject tagged');
  t.equal(hamIn.get('x-spam-status'), undefined, 'ham untagged, and the forged X-Spam-Status is gone');
  t.equal(hamIn.get('x-spam-symbols'), undefined);
  t.notMatch(hamIn.get('subject'), /\[SPAM\]/);

  // Outbound: the same kind of spam from a trusted relay client meets the outbound thresholds.
  const out = await send(gw.ports['relay']!, 'user@corp.test', 'someone@remote.test', corpusMessage('spam', 502, { from: 'user@corp.test', to: 'someone@remote.test' }));
  t.equal(out.data?.code, 550, 'outbound spam: 550 at the outbound reject threshold (inbound only tags)');
  const outHam = await send(gw.ports['relay']!, 'user@corp.test', 'colleague@corp.test', corpusMessage('ham', 502, { from: 'user@corp.test', to: 'colleague@corp.test' }));
  t.ok(outHam.ok, 'outbound ham accepted');
  const verdict = await gw.waitForLog((l) => l.event === 'reject' && String(l['response'] ?? '').includes('rejected as spam') && ((l['to'] as string[] | undefined)?.includes('someone@remote.test') ?? false), { what: 'reject log of the outbound spam' });
  t.match(String(verdict['symbols']), /BAYES_SPAM_99/);
});

t.test('spamscanner features through the daemon: IDN homograph link and executable attachment', async (t) => {
  const { sink, gw } = await gatewayToSink(t, {
    spam: { features: { enabled: true, timeoutMs: 10_000 } },
    // Without the shipped rules: their attachment rules alone would reject invoice.pdf.exe, and
    // this test is about spamscanner's features reaching the score.
    rules: { dirs: [] },
    // Tag only: the features may well pass the quarantine threshold too (that goes to the store).
    classes: { default: { inbound: { tag: 5, quarantine: null, reject: null } } },
  });
  await gw.waitForLog((l) => l.event === 'spamscanner', { what: 'spamscanner feature extractor ready', timeoutMs: 60_000 });
  const message = [
    'From: billing@shop.test', 'To: user@corp.test', 'Subject: your invoice', 'Date: Sat, 28 Nov 2026 04:00:00 +0000',
    'Message-ID: <features-daemon@shop.test>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=B', '',
    '--B', 'Content-Type: text/plain; charset=utf-8', '', 'Log in at https://xn--pple-43d.com/account to see it.', '--B',
    'Content-Type: application/octet-stream; name="invoice.pdf.exe"', 'Content-Disposition: attachment; filename="invoice.pdf.exe"',
    'Content-Transfer-Encoding: base64', '', 'TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=', '--B--', '',
  ].join('\r\n');
  const r = await send(gw.ports['mx']!, 'billing@shop.test', 'user@corp.test', message);
  t.ok(r.ok, 'accepted (Bayes untrained, the features alone reach the tag threshold)');
  const [m] = await sink.waitForMessages(1, 15_000);
  const symbols = m!.get('x-spam-symbols') ?? '';
  for (const n of ['SPAMSCANNER_IDN_HOMOGRAPH', 'SPAMSCANNER_EXECUTABLE', 'ATTACH_EXECUTABLE', 'ATTACH_DOUBLE_EXTENSION']) t.match(symbols, n, `X-Spam-Symbols has ${n}`);
  t.match(m!.get('x-spam-status'), /^Yes, /);
  const queued = await gw.waitForLog((l) => l.event === 'queued', { what: 'queued line' });
  t.match(String(queued['symbols']), /SPAMSCANNER_IDN_HOMOGRAPH\(3\)/, 'the symbol and its score are in the verdict record');
});

t.test("SpamAssassin's rules (rules/spamassassin/rules.yaml) through the daemon: header and body rules tag an untrained gateway's mail", async (t) => {
  const { sink, gw } = await gatewayToSink(t, { spam: { features: { enabled: false } } });
  const message = [
    'From: watches@shop.test', 'To: user@corp.test', 'Subject: As Seen on TV', 'Date: Sat, 28 Nov 2026 04:00:00 +0000',
    'Message-ID: <sa-rules@shop.test>', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '',
    'Hello,', '', 'the finest replica of a Rolex, at a price you will like.', '',
  ].join('\r\n');
  const plain = makeMessage({ messageId: '<sa-plain@client.test>', subject: 'minutes of the meeting', body: 'attached are the minutes\r\n' });
  t.ok((await send(gw.ports['mx']!, 'watches@shop.test', 'user@corp.test', message)).ok, 'accepted (tag, not reject)');
  t.ok((await send(gw.ports['mx']!, 'colleague@client.test', 'user@corp.test', plain)).ok);
  const got = await sink.waitForMessages(2, 15_000);
  const tagged = got.find((m) => m.messageId === '<sa-rules@shop.test>')!;
  const symbols = tagged.get('x-spam-symbols') ?? '';
  t.match(symbols, /SA_SUBJ_AS_SEEN\(3\.099\)/, 'a header rule, with SpamAssassin\'s score');
  t.match(symbols, /SA_REPLICA_WATCH\(4\.074\)/, 'a body rule');
  t.notMatch(symbols, /BAYES_/, 'no Bayes (untrained, score 0, not listed): the rules alone');
  t.match(tagged.get('x-spam-status'), /^Yes, score=\d+\.\d+ required=5\.0 class=default action=tag$/);
  t.equal(got.find((m) => m.messageId === '<sa-plain@client.test>')!.get('x-spam-status'), undefined, 'a plain message stays under the tag threshold');
  const queued = await gw.waitForLog((l) => l.event === 'queued' && String(l['symbols'] ?? '').includes('SA_REPLICA_WATCH'), { what: 'queued line with the SA symbols' });
  t.match(String(queued['symbols']), /SA_SUBJ_AS_SEEN/, 'the rule symbols are in the verdict record');

  // SpamAssassin's Perl-coded tests, ported (sa-eval.ts), and its relay rules on the
  // X-Spam-Relays-* pseudo headers (sa-relays.ts): the Date is 8 hours after our own Received
  // header's time, and the hop before us said HELO hotmail.com from an address without rDNS.
  const future = new Date(Date.now() + 8 * 3600_000).toUTCString().replace('GMT', '+0000');
  const forged = [
    'Received: from hotmail.com ([203.0.113.9]) by relay.client.test (Postfix) with SMTP id R1; ' + new Date().toUTCString().replace('GMT', '+0000'),
    'From: offers@client.test', 'To: user@corp.test', 'Subject: quarterly figures', `Date: ${future}`,
    'Message-ID: <sa-eval@client.test>', 'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', '',
    '<html><body><p>see the figures below</p></body></html>', '',
  ].join('\r\n');
  t.ok((await send(gw.ports['mx']!, 'offers@client.test', 'user@corp.test', forged)).ok);
  const [evalMsg] = (await sink.waitForMessages(3, 15_000)).filter((m) => m.messageId === '<sa-eval@client.test>');
  const evalSymbols = evalMsg!.get('x-spam-symbols') ?? '';
  t.match(evalSymbols, /SA_DATE_IN_FUTURE_06_12\(2\.222\)/, 'check_for_shifted_date against our Received time');
  t.match(evalSymbols, /SA_NO_RDNS_DOTCOM_HELO\(3\.099\)/, 'a relay rule: the first untrusted relay (our client, 127.0.0.1, is trusted loopback)');
  t.match(evalSymbols, /SA_MIME_HTML_ONLY\(0\.1\)/, 'check_for_mime_html_only on the MIME structure');
  t.notMatch(symbols, /SA_DATE_IN_FUTURE|SA_NO_RDNS_DOTCOM_HELO/, 'the first message has neither');
});

t.test('spam.trustedNetworks through the daemon: the relay trust path the SpamAssassin rules read', async (t) => {
  // Our own edge relay has a public address; nothing private is ours.
  const { sink, gw } = await gatewayToSink(t, { spam: { features: { enabled: false }, trustedNetworks: ['198.51.100.0/24'] } });
  // The same hop — HELO hotmail.com, no rDNS — once from our edge relay's network, once
  // from a private address we did not list. SpamAssassin's inference would say the opposite
  // of both (a public hop untrusted, a private one trusted).
  const viaHop = (ip: string, id: string) => [
    `Received: from hotmail.com ([${ip}]) by relay.corp.test (Postfix) with SMTP id ${id}; ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'From: colleague@client.test', 'To: user@corp.test', 'Subject: the report', `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${id}@client.test>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'the report is attached', '',
  ].join('\r\n');
  t.ok((await send(gw.ports['mx']!, 'colleague@client.test', 'user@corp.test', viaHop('198.51.100.7', 'edge'))).ok);
  t.ok((await send(gw.ports['mx']!, 'colleague@client.test', 'user@corp.test', viaHop('10.9.8.7', 'lan'))).ok);
  await sink.waitForMessages(2, 15_000);
  // Under the tag threshold, so no X-Spam-Symbols: the verdict record in the log has them all.
  const symbolsOf = async (id: string) => String((await gw.waitForLog((l) => l.event === 'queued' && l['msgid'] === `<${id}@client.test>`, { what: `queued line of ${id}` }))['symbols']);
  t.notMatch(await symbolsOf('edge'), /SA_RDNS_NONE|SA_PDS_HP_HELO_NORDNS/, 'a hop from a trusted network is ours: its missing rDNS is not the sender\'s');
  t.match(await symbolsOf('lan'), /SA_RDNS_NONE\(1\.228\).*SA_PDS_HP_HELO_NORDNS\(1\)/, 'a private hop not listed is where the message entered');
});
