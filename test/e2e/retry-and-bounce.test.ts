/*
 * test/e2e/retry-and-bounce.test.ts — what happens after the 250 when the next hop is not happy.
 *
 * - Next hop down → the message is deferred (visible in `tuxhat queue list/show` with the connect
 *   error), retried on the schedule while down, delivered once the next hop is back: by the
 *   retry timer, or at once by `tuxhat queue flush`. hold / release / delete work on it.
 * - A permanent 5xx from the next hop (smtp-sink rejecting, or a real Postfix refusing an
 *   unknown user) → the recipient bounces and an RFC 3464 DSN (multipart/report, Action: failed,
 *   Status 5.x.x) reaches the sender (whose domain is routed to another sink so we can see it).
 *   Mixed outcomes: only the failed recipient is in the DSN.
 * - The null sender never gets a DSN (no bounce loops, no backscatter).
 */
import t from 'tap';
import { admin, adminJson, checkDsn, makeMessage, sleep, SmtpClient, startGateway, startPostfix, startSink, waitFor, type Gateway, type Sink } from './harness/index.js';

interface QueueSummary {
  qid: string;
  state: string;
  mailFrom: string;
  attempts: number;
  nextAttemptAt: number;
  pending: Array<{ address: string; lastResponse: string | null }>;
}

interface QueueEntry {
  qid: string;
  state: string;
  attempts: number;
  recipients: Array<{ address: string; state: string; attempts: number; lastDsn?: string; lastResponse?: string }>;
}

/** Sends one message to the mx listener; returns its qid. */
async function send(gw: Gateway, from: string, to: string[], messageId: string): Promise<string> {
  const c = await SmtpClient.connect(gw.ports['mx']!);
  try {
    await c.ehlo('client.test');
    const r = await c.send({ from, to, message: makeMessage({ from: from || 'daemon@client.test', to, messageId }) });
    if (!r.ok) throw new Error(`not accepted: ${JSON.stringify(r)}`);
    const qid = /queued as ([0-9A-Z]+)/.exec(r.data!.text)?.[1];
    if (!qid) throw new Error(`no queue id in ${r.data!.text}`);
    return qid;
  } finally {
    await c.quit();
  }
}

const queueList = (gw: Gateway) => adminJson<QueueSummary[]>(gw, ['queue', 'list']);
const queueShow = (gw: Gateway, qid: string) => adminJson<QueueEntry>(gw, ['queue', 'show', qid]);

async function waitDeferred(gw: Gateway, qid: string, minAttempts = 1): Promise<QueueSummary> {
  return waitFor(async () => (await queueList(gw)).find((e) => e.qid === qid && e.state === 'deferred' && e.attempts >= minAttempts), {
    timeoutMs: 15_000,
    what: `${qid} deferred after ${minAttempts} attempt(s)`,
    detail: () => JSON.stringify(gw.logs().slice(-10)),
  });
}

function gatewayConfig(next: Sink | { hostPort: string }, senderBox: Sink, scheduleMs: number[]) {
  return {
    hostname: 'gw.tuxhat.test',
    domains: {
      'corp.test': { route: { transport: 'smtp', hosts: [next.hostPort], tls: 'none' } },
      // The senders' own domain, so DSNs to them can be observed.
      'sender.test': { route: { transport: 'smtp', hosts: [senderBox.hostPort], tls: 'none' } },
    },
    queue: { scheduleMs },
    delivery: { scanIntervalMs: 200, connectTimeoutMs: 2000, greetingTimeoutMs: 2000 },
  };
}

t.test('next hop down: deferred, retried on schedule, delivered when it is back', async (t) => {
  const next = await startSink(t);
  const senderBox = await startSink(t);
  const gw = await startGateway(t, { config: gatewayConfig(next, senderBox, [1000]) });
  await next.stop();

  const qid = await send(gw, 'alice@sender.test', ['bob@corp.test'], '<retry-timer@sender.test>');
  const first = await waitDeferred(gw, qid);
  t.match(first.pending[0]?.lastResponse ?? '', /ECONNREFUSED|refused|connect/i, `deferred with the connect error: ${first.pending[0]?.lastResponse}`);
  const deferredLog = await gw.waitForLog((l) => l.event === 'deferred' && l.qid === qid);
  t.match(String(deferredLog['dsn']), /^4\./, `deferred log line with a 4.x.x code (${String(deferredLog['dsn'])})`);
  // Still down: retried again after ~1 s.
  const again = await waitDeferred(gw, qid, 2);
  t.ok(again.attempts >= 2, `retried while down (${again.attempts} attempts)`);

  await next.restart();
  const [m] = await next.waitForMessages(1, 15_000);
  t.equal(m!.messageId, '<retry-timer@sender.test>', 'delivered by the retry schedule once the next hop is back');
  await gw.waitForLog((l) => l.event === 'removed' && l.qid === qid);
  t.equal(senderBox.count(), 0, 'no DSN for a message that was only delayed');
  const trace = await adminJson<Array<{ event: string }>>(gw, ['trace', qid]);
  const names = trace.map((e) => e.event);
  t.equal(names[0], 'queued');
  t.ok(names.filter((n) => n === 'deferred').length >= 2, 'trace shows the deferrals');
  t.same(names.slice(-2), ['delivered', 'removed'], 'trace ends delivered → removed');
});

t.test('next hop down: queue list shows it deferred; hold, release, flush and delete', async (t) => {
  const next = await startSink(t);
  const senderBox = await startSink(t);
  // A long retry interval: only `tuxhat queue flush` can make these go out within the test.
  const gw = await startGateway(t, { config: gatewayConfig(next, senderBox, [600_000]) });
  await next.stop();

  const qid = await send(gw, 'alice@sender.test', ['bob@corp.test'], '<flush-me@sender.test>');
  const held = await send(gw, 'alice@sender.test', ['carol@corp.test'], '<hold-me@sender.test>');
  const doomed = await send(gw, 'alice@sender.test', ['dave@corp.test'], '<delete-me@sender.test>');
  for (const q of [qid, held, doomed]) await waitDeferred(gw, q);

  const text = await admin(gw, ['queue', 'list']);
  t.equal(text.code, 0);
  // postqueue -p style: a line per message, then the last response in (), then the recipient.
  const block = new RegExp(`^${qid} .*\\n(?: +.*\\n)*`, 'm').exec(text.stdout)?.[0] ?? '';
  t.match(block, new RegExp(`^${qid}\\s+deferred\\s+\\d+ .* alice@sender\\.test`), `queue list line: ${block.split('\n')[0]}`);
  t.match(block, /\(.*(ECONNREFUSED|refused|connect).*\)/i, 'the connect error is shown above the recipient');
  t.match(block, /bob@corp\.test/);
  t.match(text.stdout, /in 3 messages\./, 'three messages listed');
  const shown = await queueShow(gw, qid);
  t.equal(shown.state, 'deferred');
  t.equal(shown.recipients[0]!.state, 'pending');
  t.match(shown.recipients[0]!.lastDsn ?? '', /^4\./, 'recipient has a 4.x.x status');
  const showText = await admin(gw, ['queue', 'show', qid]);
  t.match(showText.stdout, /State:\s+deferred/);

  const h = await admin(gw, ['queue', 'hold', held]);
  t.equal(h.code, 0, `hold: ${h.stdout}${h.stderr}`);
  const d = await admin(gw, ['queue', 'delete', doomed]);
  t.equal(d.code, 0, `delete: ${d.stdout}${d.stderr}`);
  t.equal((await queueShow(gw, held)).state, 'hold');
  const gone = await admin(gw, ['queue', 'show', doomed]);
  t.not(gone.code, 0, 'a deleted message is gone');

  await next.restart();
  const flush = await admin(gw, ['queue', 'flush']);
  t.equal(flush.code, 0);
  t.match(flush.stdout, /^1 message scheduled for delivery now/, `flush: ${flush.stdout.trim()}`);
  const [m] = await next.waitForMessages(1, 10_000);
  t.equal(m!.messageId, '<flush-me@sender.test>', 'delivered right after the flush (retry was 10 min away)');
  await gw.waitForLog((l) => l.event === 'removed' && l.qid === qid);

  // The held message stays put, even through a flush.
  await admin(gw, ['queue', 'flush']);
  await sleep(1000);
  t.equal(next.count(), 1, 'the held message was not delivered');
  t.equal((await queueShow(gw, held)).state, 'hold', 'still on hold');
  const rel = await admin(gw, ['queue', 'release', held]);
  t.equal(rel.code, 0, `release: ${rel.stdout}${rel.stderr}`);
  const all = await next.waitForMessages(2, 10_000);
  t.same(all.map((x) => x.messageId).sort(), ['<flush-me@sender.test>', '<hold-me@sender.test>'], 'released message delivered; deleted one never');
  await waitFor(async () => (await queueList(gw)).length === 0, { timeoutMs: 10_000, what: 'an empty queue' });
  t.equal(senderBox.count(), 0, 'no DSNs');
});

t.test('permanent 5xx from the next hop: DSN to the sender; never to the null sender', async (t) => {
  const next = await startSink(t, { rejectHard: ['RCPT'], hardReply: '550 5.1.1 <bob@corp.test>: Recipient address rejected: User unknown' });
  const senderBox = await startSink(t);
  const gw = await startGateway(t, { config: gatewayConfig(next, senderBox, [1000]) });

  const qid = await send(gw, 'alice@sender.test', ['bob@corp.test'], '<will-bounce@sender.test>');
  const [dsn] = await senderBox.waitForMessages(1, 15_000);
  checkDsn(t, dsn!, { to: 'alice@sender.test', failed: 'bob@corp.test', status: /^5\.1\.1$/, originalId: '<will-bounce@sender.test>' });
  t.match(dsn!.body, /^Diagnostic-Code: smtp; .*550 5\.1\.1 <bob@corp\.test>: Recipient address rejected: User unknown/m, 'Diagnostic-Code carries the remote reply');
  t.ok(dsn!.body.includes(`X-TuxHat-Queue-ID: ${qid}`), 'DSN names the original queue id');
  const bounced = await gw.waitForLog((l) => l.event === 'bounced' && l.qid === qid);
  t.equal(bounced['to'], 'bob@corp.test');
  await gw.waitForLog((l) => l.event === 'removed' && l.qid === qid);
  t.equal(next.count(), 0, 'nothing was delivered to the refusing next hop');
  t.equal(gw.logs().filter((l) => l.event === 'deferred' && l.qid === qid).length, 0, 'a 5xx is not retried');

  // The null sender: bounced, logged, but no DSN is generated.
  const nullQid = await send(gw, '', ['bob@corp.test'], '<from-null@client.test>');
  await gw.waitForLog((l) => l.event === 'bounced' && l.qid === nullQid, { what: 'the null-sender message bounced' });
  await gw.waitForLog((l) => l.event === 'removed' && l.qid === nullQid);
  // A DSN would be queued in the same transaction as the bounce; give delivery a moment anyway.
  await sleep(1500);
  t.equal(senderBox.count(), 1, 'still only the first DSN: none for the null sender');
  t.notOk(gw.logs().some((l) => l.event === 'queued' && l['dsnFor'] === nullQid), 'no DSN queued for the null-sender message');
  t.equal(gw.logs().filter((l) => l.event === 'queued' && l['dsnFor'] !== undefined).length, 1, 'exactly one DSN was ever queued');

  // A DSN that cannot be delivered is not bounced again (it has the null sender).
  await senderBox.restart({ rejectHard: ['RCPT'] });
  const qid3 = await send(gw, 'alice@sender.test', ['bob@corp.test'], '<bounce-of-bounce@sender.test>');
  const dsnQueued = await gw.waitForLog((l) => l.event === 'queued' && l['dsnFor'] === qid3, { what: 'the DSN for the third message' });
  await gw.waitForLog((l) => l.event === 'bounced' && l.qid === dsnQueued.qid, { what: 'the undeliverable DSN bounced' });
  await gw.waitForLog((l) => l.event === 'removed' && l.qid === dsnQueued.qid);
  await sleep(1000);
  t.equal(gw.logs().filter((l) => l.event === 'queued' && l['dsnFor'] !== undefined).length, 2, 'no DSN about a DSN');
});

t.test('Postfix refuses an unknown user: DSN for that recipient only; the known one is delivered', async (t) => {
  const pf = await startPostfix(t, { mailbox: { domains: ['corp.test'], users: ['alice@corp.test'] } });
  const senderBox = await startSink(t);
  const gw = await startGateway(t, { config: gatewayConfig(pf, senderBox, [1000]) });

  const qid = await send(gw, 'carol@sender.test', ['alice@corp.test', 'nosuchuser@corp.test'], '<mixed@sender.test>');
  const [dsn] = await senderBox.waitForMessages(1, 20_000);
  checkDsn(t, dsn!, { to: 'carol@sender.test', failed: 'nosuchuser@corp.test', status: /^5\.1\.1$/, originalId: '<mixed@sender.test>' });
  t.notOk(dsn!.body.includes('Final-Recipient: rfc822; alice@corp.test'), 'the delivered recipient is not in the DSN');
  t.notMatch(dsn!.body, /Remote-MTA: dns; 127\.0\.0\.1/, 'no Remote-MTA of type dns for an address-only next hop');
  t.match(dsn!.body, /Diagnostic-Code: smtp; 550 5\.1\.1 <nosuchuser@corp\.test>: Recipient address rejected/, 'the diagnostic code is Postfix\'s own reply');
  const box = await waitFor(async () => {
    const d = await pf.delivered();
    return d.length > 0 ? d : undefined;
  }, { timeoutMs: 15_000, what: 'the delivery to alice' });
  t.same(box.map((b) => b.mailbox), ['alice@corp.test'], 'the known user got the message');
  await gw.waitForLog((l) => l.event === 'removed' && l.qid === qid);
  const trace = await adminJson<Array<{ event: string; to?: string }>>(gw, ['trace', qid]);
  t.ok(trace.some((e) => e.event === 'delivered' && e.to === 'alice@corp.test'), 'trace: delivered to alice');
  t.ok(trace.some((e) => e.event === 'bounced' && e.to === 'nosuchuser@corp.test'), 'trace: bounced for the unknown user');
});
