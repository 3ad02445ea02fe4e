/*
 * test/e2e/policy-greylist-reputation.test.ts — greylisting and reputation through the real
 * daemon (issue 5).
 *
 * Greylisting at RCPT for clients without a good reputation (atRcpt: unknown), with a 2 s delay:
 * first attempt 451 4.7.1, an early retry refused again, a retry after the delay accepted, the
 * known triplet passes at once, `tuxhat greylist release` lets a waiting triplet through.
 * Reputation: every accepted message teaches ham for 127.0.0.0/24 and the sender domain, a
 * relay-denied RCPT teaches a reject; `tuxhat reputation show` shows it; once good, the client
 * is no longer greylisted and its mail carries REPUTATION_IP_GOOD; `reputation reset` forgets.
 * Then greylisting after DATA: with atRcpt off and a data score threshold every message
 * reaches, a new triplet is refused with 451 after DATA.
 */
import t from 'tap';
import { admin, adminJson, makeMessage, sleep, smtpTalk, startDns, startGateway } from './harness/index.js';

interface GreyRow { network: string; sender: string; recipient: string; passed: boolean; attempts: number }
interface RepRow { scope: string; subject: string; cls: string; counts: Record<string, number> }

t.test('greylisting flow and reputation', async (t) => {
  const dns = await startDns(t, { txt: { 'client.test': 'v=spf1 ip4:127.0.0.1 -all' } });
  const gw = await startGateway(t, {
    config: {
      workers: 2,
      dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 },
      greylisting: { atRcpt: 'unknown', delayMs: 2000, retryWindowMs: 60_000 },
      reputation: { minSamples: 3, goodBelow: 0.2 },
    },
  });
  const port = gw.ports['mx']!;
  const rcpt = (from: string) => smtpTalk(port, ['EHLO client.test', `MAIL FROM:<${from}>`, 'RCPT TO:<user@example.test>', 'QUIT']);
  const send = (from: string) => smtpTalk(port, ['EHLO client.test', `MAIL FROM:<${from}>`, 'RCPT TO:<user@example.test>', 'DATA', { data: makeMessage({ from, to: 'user@example.test' }) }, 'QUIT']);

  await t.test('first attempt 451 4.7.1, early retry 451, retry after the delay accepted', async (t) => {
    const first = await rcpt('a@client.test');
    t.equal(first[3]!.code, 451, 'first attempt greylisted');
    t.match(first[3]!.text, /^4\.7\.1 Greylisted/);
    const early = await rcpt('a@client.test');
    t.equal(early[3]!.code, 451, 'a retry before the delay is refused again');
    await sleep(2300);
    const retry = await send('a@client.test');
    t.equal(retry[3]!.code, 250, 'the retry after the delay passes RCPT');
    t.equal(retry[5]!.code, 250, 'and is queued');
    const again = await send('a@client.test');
    t.equal(again[3]!.code, 250, 'the known triplet passes at once');
    t.equal(again[5]!.code, 250);
  });

  await t.test('tuxhat greylist list and release', async (t) => {
    const first = await rcpt('b@client.test');
    t.equal(first[3]!.code, 451, 'a new sender is greylisted');
    const rows = await adminJson<GreyRow[]>(gw, ['greylist', 'list']);
    const b = rows.find((r) => r.sender === 'b@client.test');
    t.ok(b, 'the triplet is listed');
    t.equal(b?.network, '127.0.0.0/24', 'with the /24 network');
    t.equal(b?.passed, false, 'still waiting');
    t.ok(rows.find((r) => r.sender === 'a@client.test')?.passed, 'a@ passed');
    const text = await admin(gw, ['greylist', 'list']);
    t.match(text.stdout, /b@client\.test\s+user@example\.test\s+(wait \d+s|retry ok)/, 'the table shows it not passed yet');
    const rel = await admin(gw, ['greylist', 'release', 'b@client.test']);
    t.equal(rel.code, 0, rel.stderr);
    t.match(rel.stdout, /1 triplet released/);
    const after = await send('b@client.test');
    t.equal(after[3]!.code, 250, 'released: accepted without waiting');
    t.equal(after[5]!.code, 250);
    const bad = await admin(gw, ['greylist', 'release', 'not a thing']);
    t.not(bad.code, 0, 'a match that names nothing is refused');
  });

  await t.test('reputation learnt from verdicts and session rejects, shown by the CLI', async (t) => {
    const denied = await smtpTalk(port, ['EHLO client.test', 'MAIL FROM:<a@client.test>', 'RCPT TO:<x@elsewhere.test>', 'QUIT']);
    t.equal(denied[3]!.code, 550, 'relay denied');
    await sleep(300);
    const rows = await adminJson<RepRow[]>(gw, ['reputation', 'show', '127.0.0.1']);
    t.equal(rows.length, 1);
    t.equal(rows[0]!.subject, '127.0.0.0/24', 'the /24 network');
    t.ok(rows[0]!.counts['ham']! > 2.99 && rows[0]!.counts['ham']! <= 3, `3 ham (decayed a little): ${rows[0]!.counts['ham']}`);
    t.ok(rows[0]!.counts['reject']! > 0.99, 'one reject');
    t.equal(rows[0]!.cls, 'good', 'a good network now');
    const dom = await adminJson<RepRow[]>(gw, ['reputation', 'show', 'client.test']);
    t.equal(dom.find((r) => r.scope === 'from')?.counts['ham']?.toFixed(0), '3', 'the envelope sender domain learnt too');
    const text = await admin(gw, ['reputation', 'show', '127.0.0.1']);
    t.match(text.stdout, /ip\s+127\.0\.0\.0\/24\s+good/);
  });

  await t.test('good reputation: not greylisted, scored with REPUTATION_IP_GOOD', async (t) => {
    const r = await send('c@client.test');
    t.equal(r[3]!.code, 250, 'a new triplet passes at once');
    t.equal(r[5]!.code, 250);
    const queued = await gw.waitForLog((l) => l.event === 'queued' && l['from'] === 'c@client.test');
    t.ok((queued['symbols'] as string[]).some((s) => s.startsWith('REPUTATION_IP_GOOD(')), `symbols: ${String(queued['symbols'])}`);
    t.equal((queued['symbols'] as string[]).filter((s) => s.startsWith('REPUTATION_IP_GOOD(')).length, 1, 'counted once (the MAIL check and the data stage both know it)');
  });

  await t.test('reputation reset forgets', async (t) => {
    const r = await admin(gw, ['reputation', 'reset', '127.0.0.1']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /reputation reset/);
    const show = await admin(gw, ['reputation', 'show', '127.0.0.1']);
    t.equal(show.code, 1, 'nothing known any more');
    t.match(show.stderr, /no reputation known/);
    const stillGood = await rcpt('d@client.test');
    t.equal(stillGood[3]!.code, 250, 'the sender domain is still of good reputation: not greylisted');
    t.equal((await admin(gw, ['reputation', 'reset', 'client.test'])).code, 0);
    // A receiver reuses a record it read for up to 1 s (policy/checks/reputation-view.ts): a reset
    // made by another process is seen from then on.
    await sleep(1100);
    const d = await rcpt('d2@client.test');
    t.equal(d[3]!.code, 451, 'both forgotten: greylisted again');
  });

  await t.test('greylisting after DATA for doubtful content', async (t) => {
    await gw.restart({ ...gw.config, greylisting: { atRcpt: 'off', dataScore: -100, delayMs: 2000, retryWindowMs: 60_000 } });
    const first = await send('e@client.test');
    t.equal(first[3]!.code, 250, 'RCPT is not greylisted');
    t.equal(first[5]!.code, 451, 'the message is greylisted after DATA');
    t.match(first[5]!.text, /^4\.7\.1 Greylisted/);
    await sleep(2300);
    const retry = await send('e@client.test');
    t.equal(retry[5]!.code, 250, 'the retry after the delay is queued');
  });
});
