/*
 * test/e2e/policy-rate-limits.test.ts — inbound rate limits are exact across worker processes
 * (issue 5): with `workers: 2` and a limit of 100 messages per window for the client address, a
 * parallel burst of 130 sessions gets exactly 100 × 250 and 30 × 450 4.7.1 — the LMDB counters
 * are checked and incremented in one write transaction shared by both processes. Then the
 * recipient limit: the 6th recipient of a sender within the window is refused at RCPT with 450,
 * and recipients delivered earlier in the window count against it.
 * The window is an hour, so a burst of a few seconds does not straddle two windows (the test
 * waits if it would start within 20 s of an hour boundary).
 */
import t from 'tap';
import { makeMessage, sleep, smtpTalk, startDns, startGateway } from './harness/index.js';

const HOUR = 3600_000;

t.test('inbound: 100 messages per window from one client, exactly, across 2 workers', async (t) => {
  const toBoundary = HOUR - (Date.now() % HOUR);
  if (toBoundary < 20_000) await sleep(toBoundary + 500);
  const dns = await startDns(t, { txt: { 'client.test': 'v=spf1 ip4:127.0.0.1 -all' } });
  const gw = await startGateway(t, {
    config: {
      workers: 2,
      dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 },
      greylisting: { enabled: false },
      rateLimits: { inbound: { clientIp: [{ windowMs: HOUR, messages: 100 }], sender: [{ windowMs: HOUR, recipients: 5 }] } },
    },
  });
  const port = gw.ports['mx']!;

  const send = (i: number) => smtpTalk(port, ['EHLO client.test', `MAIL FROM:<s${i}@client.test>`, 'RCPT TO:<user@example.test>', 'DATA', { data: makeMessage({ from: `s${i}@client.test`, to: 'user@example.test' }) }, 'QUIT']);
  // 130 sessions, 26 at a time, all from 127.0.0.1.
  const results: Array<Awaited<ReturnType<typeof send>>> = [];
  for (let batch = 0; batch < 5; batch++) {
    results.push(...await Promise.all(Array.from({ length: 26 }, (_, j) => send(batch * 26 + j))));
  }
  const accepted = results.filter((r) => r[5]?.code === 250).length;
  // MAIL only looks (a client over its limit is refused before it sends); the count is made after
  // DATA, so the sessions that raced past MAIL while the last of the 100 were in flight are refused there.
  const atMail = results.filter((r) => r[2]?.code === 450);
  const afterData = results.filter((r) => r[2]?.code === 250 && r[5]?.code === 450);
  t.equal(accepted, 100, 'exactly 100 messages accepted');
  t.equal(atMail.length + afterData.length, 30, `the other 30 refused with 450 (${atMail.length} at MAIL, ${afterData.length} after DATA)`);
  t.ok(atMail.length >= 26, 'the last batch of 26, sent once the budget was spent, is refused at MAIL');
  t.match(atMail[0]![2]!.text, /^4\.7\.1 Rate limit exceeded/, '450 4.7.1 RATE_LIMITED at MAIL');
  for (const r of afterData) t.match(r[5]!.text, /^4\.7\.1 Rate limit exceeded/, '450 4.7.1 RATE_LIMITED after DATA');
  const later = await send(999);
  t.equal(later[2]?.code, 450, 'once the window is full, the next message is refused at MAIL');
  const queuedPids = new Set(gw.logs().filter((l) => l.event === 'queued').map((l) => l['pid']));
  t.equal(queuedPids.size, 2, 'both worker processes accepted some of them');

  await t.test('recipients per sender: the 6th within the window is refused at RCPT', async (t) => {
    // The client's message budget is spent (counters survive a restart): drop that limit.
    await gw.restart({ ...gw.config, rateLimits: { inbound: { sender: [{ windowMs: HOUR, recipients: 5 }] } } });
    const r = await smtpTalk(port, ['EHLO client.test', 'MAIL FROM:<many@client.test>',
      ...[1, 2, 3, 4, 5, 6].map((n) => `RCPT TO:<u${n}@example.test>`), 'QUIT']);
    t.same(r.slice(3, 9).map((x) => x.code), [250, 250, 250, 250, 250, 450], 'five recipients accepted, the sixth 450');
    t.match(r[8]!.text, /^4\.7\.1 /);
    // Counted after DATA: 3 recipients delivered leave room for 2 in the next transaction.
    const three = await smtpTalk(port, ['EHLO client.test', 'MAIL FROM:<counted@client.test>', ...[1, 2, 3].map((n) => `RCPT TO:<c${n}@example.test>`), 'DATA',
      { data: makeMessage({ from: 'counted@client.test', to: 'c1@example.test' }) }, 'QUIT']);
    t.equal(three[7]?.code, 250, 'three recipients accepted and delivered');
    const next = await smtpTalk(port, ['EHLO client.test', 'MAIL FROM:<counted@client.test>', ...[4, 5, 6].map((n) => `RCPT TO:<c${n}@example.test>`), 'QUIT']);
    t.same(next.slice(3, 6).map((x) => x.code), [250, 250, 450], 'the next transaction gets the two left, the third 450');
  });
});
