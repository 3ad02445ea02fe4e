/*
 * test/e2e/shutdown-drain.test.ts — SIGTERM drains gracefully (issue 2, "Process model and systemd"):
 * a session in the middle of a transaction may finish it (250); new connections get 421 (or are
 * refused once the listener is closed); an idle session is closed with 421 when closeTimeoutMs
 * runs out; the daemon exits 0; nothing is lost (what was accepted is delivered, what was queued
 * for a next hop that is down is still queued after the restart).
 */
import t from 'tap';
import { admin, adminJson, isListening, makeMessage, sleep, SmtpClient, startGateway, startSink, waitFor } from './harness/index.js';

const CLOSE_TIMEOUT_MS = 4000;

t.test('SIGTERM: running session finishes, new ones get 421, exit 0, nothing lost', async (t) => {
  const sink = await startSink(t);
  const downSink = await startSink(t);
  const listener = { kind: 'mx', tls: 'none', closeTimeoutMs: CLOSE_TIMEOUT_MS };
  const gw = await startGateway(t, {
    config: {
      listeners: { mx: listener },
      domains: {
        'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } },
        'down.test': { route: { transport: 'smtp', hosts: [downSink.hostPort], tls: 'none' } },
      },
      queue: { scheduleMs: [600_000] },
    },
  });
  const port = gw.ports['mx']!;
  await downSink.stop();

  // Queued before the shutdown, for a next hop that is down: must survive it.
  const q = await SmtpClient.connect(port);
  await q.ehlo('client.test');
  const queuedRes = await q.send({ from: 'a@client.test', to: ['user@down.test'], message: makeMessage({ to: 'user@down.test', messageId: '<queued-before-term@client.test>' }) });
  await q.quit();
  t.ok(queuedRes.ok, 'a message for the down next hop is queued');
  const queuedQid = /queued as ([0-9A-Z]+)/.exec(queuedRes.data!.text)?.[1];
  await gw.waitForLog((l) => l.event === 'deferred' && l.qid === queuedQid, { what: 'its first deferral' });

  // Session A: mid-transaction when SIGTERM arrives.
  const a = await SmtpClient.connect(port);
  t.teardown(() => a.close());
  await a.ehlo('client.test');
  t.equal((await a.command('MAIL FROM:<a@client.test>')).code, 250);
  t.equal((await a.command('RCPT TO:<user@corp.test>')).code, 250);
  // Session B: connected and idle; it never finishes.
  const b = await SmtpClient.connect(port, { timeoutMs: 3 * CLOSE_TIMEOUT_MS });
  t.teardown(() => b.close());
  await b.ehlo('idle.test');

  const termAt = Date.now();
  gw.kill('SIGTERM');
  await gw.waitForLog((l) => l.event === 'shutdown' && l['signal'] === 'SIGTERM', { what: 'the shutdown logged' });
  await sleep(300); // the receivers have been told to drain

  // A new connection now: 421, or refused outright once the listener is closed.
  let newConn = '';
  try {
    const c = await SmtpClient.connect(port, { timeoutMs: 3000 });
    newConn = `${c.greeting.code} ${c.greeting.text}`;
    c.close();
  } catch (err) {
    newConn = `refused: ${(err as Error).message}`;
  }
  t.match(newConn, /^(421 |refused: .*ECONNREFUSED)/, `a new connection during the drain: ${newConn}`);
  t.match(newConn, /^(421 4\.3\.2 |refused)/, 'with 4.3.2 when it is a 421');

  // Session A finishes its transaction.
  const data = await a.data(makeMessage({ messageId: '<during-drain@client.test>' }));
  t.equal(data.code, 250, `the running session's message is accepted during the drain: ${data.raw.join(' | ')}`);
  const drainQid = /queued as ([0-9A-Z]+)/.exec(data.text)?.[1];
  await a.quit();

  // Session B gets 421 when closeTimeoutMs runs out; the daemon then exits 0.
  const bLast = await b.read(3 * CLOSE_TIMEOUT_MS).catch((err: Error) => ({ code: 0, raw: [err.message] }));
  t.equal(bLast.code, 421, `the idle session is closed with 421: ${bLast.raw.join(' | ')}`);
  t.match(bLast.raw.join(' '), /^421 4\.3\.2 /, 'with 4.3.2');
  await waitFor(() => gw.exitStatus() !== undefined, { timeoutMs: 3 * CLOSE_TIMEOUT_MS + 10_000, what: 'the daemon to exit' });
  const took = Date.now() - termAt;
  t.equal(gw.exitStatus(), 0, 'exit status 0');
  t.ok(took < CLOSE_TIMEOUT_MS + 3000, `exited within closeTimeoutMs (+3 s): ${took} ms`);
  t.notOk(await isListening(port), 'nothing listens any more');
  t.ok(gw.logs().some((l) => l.event === 'shutdown' && l['done'] === true), '"stopped" logged');

  // Nothing lost: restart; the message accepted during the drain is delivered (if it was not
  // already), and the queued one is still there and goes out when its next hop is back.
  await gw.restart();
  const msgs = await sink.waitForMessages(1, 15_000);
  t.same(msgs.map((m) => m.messageId), ['<during-drain@client.test>'], 'the message accepted during the drain was delivered (once)');
  const list = await adminJson<Array<{ qid: string; state: string }>>(gw, ['queue', 'list']);
  t.same(list.map((e) => e.qid), [queuedQid], 'the deferred message is still queued after the restart');
  t.not(drainQid, undefined);
  await downSink.restart();
  const flush = await admin(gw, ['queue', 'flush']);
  t.equal(flush.code, 0);
  const [m] = await downSink.waitForMessages(1, 15_000);
  t.equal(m!.messageId, '<queued-before-term@client.test>', 'delivered after the restart');
});
