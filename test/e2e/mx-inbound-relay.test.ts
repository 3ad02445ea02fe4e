/*
 * test/e2e/mx-inbound-relay.test.ts — the main inbound path: swaks → gateway `mx` listener for a
 * relay domain → the domain's internal server (smtp-sink, then a real Postfix with mailboxes).
 *
 * Asserts what a postmaster sees: the `250 2.0.0 Ok: queued as QID` reply, our `Received:` header
 * (by <hostname> (TuxHat) with ESMTP id QID), the `queued` and `delivered` log lines carrying the
 * qid, and `tuxhat trace QID` over the admin socket telling the story queued → delivered → removed.
 */
import t from 'tap';
import { adminJson, admin, startGateway, startPostfix, startSink, swaksSend, waitFor, type LogLine } from './harness/index.js';

const HOSTNAME = 'gw.tuxhat.test';
const QUEUED_RE = /^250 2\.0\.0 Ok: queued as ([0-9A-Z]+)$/;

interface TraceEvent {
  at: number;
  event: string;
  [k: string]: unknown;
}

t.test('swaks → mx → smtp-sink: Received header, queued-as reply, logs and trace', async (t) => {
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      hostname: HOSTNAME,
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } } },
    },
  });

  const msgid = '<inbound-1@client.test>';
  const res = await swaksSend(gw.ports['mx']!, { from: 'alice@client.test', to: 'bob@corp.test', helo: 'client.test', headers: { 'Message-Id': msgid } });
  t.equal(res.code, 0, 'swaks exit 0', { transcript: res.transcript });
  const queuedLine = res.replies.find((r) => r.startsWith('250 2.0.0 Ok: queued as'));
  t.ok(queuedLine, 'reply "250 2.0.0 Ok: queued as QID"');
  const qid = QUEUED_RE.exec(queuedLine ?? '')?.[1];
  t.ok(qid, `queue id in the reply: ${queuedLine}`);
  t.equal(res.queuedAs, qid);

  const [m] = await sink.waitForMessages(1, 15_000);
  t.equal(m!.messageId, msgid, 'the message arrived at the internal server');
  t.equal(m!.mailFrom, 'alice@client.test', 'envelope sender kept');
  t.same(m!.rcptTo, ['bob@corp.test'], 'envelope recipient kept');
  const received = m!.getAll('received');
  t.ok(received.length >= 1, 'has a Received header');
  t.match(received[0], new RegExp(`^from client\\.test \\(.*\\[127\\.0\\.0\\.1\\]\\) by ${HOSTNAME.replace(/\./g, '\\.')} \\(TuxHat\\) with ESMTP id ${qid} for <bob@corp\\.test>;`), `our Received header comes first: ${received[0]}`);
  t.match(m!.body, /This is a test mailing/, 'body intact');

  // Logs: queued and delivered, both with the qid.
  const queued = await gw.waitForLog((l) => l.event === 'queued' && l.qid === qid, { what: `queued log line for ${qid}` });
  t.equal(queued['from'], 'alice@client.test');
  t.same(queued['to'], ['bob@corp.test']);
  t.equal(queued['msgid'], msgid, 'queued line has the Message-ID');
  const delivered = await gw.waitForLog((l) => l.event === 'delivered' && l.qid === qid, { what: `delivered log line for ${qid}` });
  t.equal(delivered['to'], 'bob@corp.test');
  t.match(String(delivered['relay']), String(sink.port), 'delivered line names the next hop');
  await gw.waitForLog((l) => l.event === 'removed' && l.qid === qid, { what: `removed log line for ${qid}` });

  // tuxhat trace QID over the admin socket.
  const events = await waitFor(async () => {
    const ev = await adminJson<TraceEvent[]>(gw, ['trace', qid!]);
    return ev.some((e) => e.event === 'removed') ? ev : undefined;
  }, { timeoutMs: 10_000, what: `trace of ${qid} ending in removed` });
  const names = events.map((e) => e.event);
  t.same(names, ['queued', 'delivered', 'removed'], `trace is queued → delivered → removed (got ${JSON.stringify(names)})`);
  t.equal(events[1]!['to'], 'bob@corp.test', 'delivered event names the recipient');
  const text = await admin(gw, ['trace', qid!]);
  t.equal(text.code, 0, `tuxhat trace exits 0\n${text.stderr}`);
  t.match(text.stdout, new RegExp(`^Trace of ${qid}:`), 'human trace output');
  t.match(text.stdout, / queued /);
  t.match(text.stdout, / delivered /);
  t.match(text.stdout, / removed/);

  // The queue is empty afterwards.
  const list = await admin(gw, ['queue', 'list']);
  t.equal(list.code, 0);
  t.match(list.stdout, /Mail queue is empty/);
  t.notOk(gw.logs().some((l: LogLine) => l.qid === qid && (l.event === 'deferred' || l.event === 'bounced')), 'no deferral or bounce');
});

t.test('swaks → mx → private Postfix as the internal server (Maildir delivery to two users)', async (t) => {
  const pf = await startPostfix(t, { mailbox: { domains: ['corp.test'], users: ['alice@corp.test', 'carol@corp.test'] } });
  const gw = await startGateway(t, {
    config: {
      hostname: HOSTNAME,
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [pf.hostPort], tls: 'none' } } },
      queue: { scheduleMs: [60_000] },
    },
  });

  const msgid = '<inbound-pf@client.test>';
  const res = await swaksSend(gw.ports['mx']!, { from: 'dave@client.test', to: 'alice@corp.test,carol@corp.test', headers: { 'Message-Id': msgid } });
  t.equal(res.code, 0, 'swaks exit 0', { transcript: res.transcript });
  const qid = res.queuedAs;
  t.match(qid, /^[0-9A-Z]+$/, 'queued as QID');

  const boxes = await waitFor(async () => {
    const d = await pf.delivered();
    return d.length >= 2 ? d : undefined;
  }, { timeoutMs: 20_000, what: 'two Maildir deliveries at Postfix', detail: () => `see ${pf.logFile}` });
  t.same(boxes.map((b) => b.mailbox).sort(), ['alice@corp.test', 'carol@corp.test'], 'each user got it');
  for (const b of boxes) {
    t.match(b.content, /Message-ID: <inbound-pf@client\.test>/i);
    // Postfix adds its own Received on top; ours is the next one.
    const rec = b.content.split(/\r?\n(?=\S)/).filter((h) => /^Received:/i.test(h)).map((h) => h.replace(/\s+/g, ' '));
    t.ok(rec.length >= 2, 'Postfix and TuxHat Received headers');
    t.match(rec[0], /by postfix\.test \(Postfix\)/, 'Postfix received it');
    t.match(rec[1], new RegExp(`by ${HOSTNAME.replace(/\./g, '\\.')} \\(TuxHat\\) with ESMTP id ${qid}`), `then ours: ${rec[1]}`);
    t.notMatch(rec[1], / for </, 'no "for" clause for a two-recipient message (Bcc privacy)');
  }
  const log = await pf.log();
  t.match(log, /status=sent/, 'Postfix logged the delivery');

  await gw.waitForLog((l) => l.event === 'removed' && l.qid === qid, { what: `removed log line for ${qid}` });
  const events = await adminJson<TraceEvent[]>(gw, ['trace', qid!]);
  const names = events.map((e) => e.event);
  t.equal(names[0], 'queued', 'trace starts with queued');
  t.equal(names.filter((n) => n === 'delivered').length, 2, 'one delivered event per recipient');
  t.equal(names[names.length - 1], 'removed', 'trace ends with removed');
});

t.test('a bare <postmaster> is accepted and delivered to the configured postmaster (RFC 5321 §4.5.1)', async (t) => {
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      hostname: HOSTNAME,
      postmaster: 'hostmaster@corp.test',
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } } },
    },
  });
  const res = await swaksSend(gw.ports['mx']!, { from: 'alice@client.test', to: 'postmaster', helo: 'client.test' });
  t.equal(res.code, 0, 'accepted', { transcript: res.transcript });
  const [m] = await sink.waitForMessages(1, 15_000);
  t.same(m!.rcptTo, ['hostmaster@corp.test'], 'routed to the configured postmaster');
  const refused = await swaksSend(gw.ports['mx']!, { from: 'alice@client.test', to: 'root', helo: 'client.test' });
  t.not(refused.code, 0, 'another bare name is refused');
});
