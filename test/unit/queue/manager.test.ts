import t, { type Test } from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseConfig } from '../../../gateway/src/config/index.js';
import { newQid, type DeliveryOutcome, type QueueEntry } from '../../../gateway/src/core/index.js';
import type { DeliveryJob, Route, Transport } from '../../../gateway/src/deliver/types.js';
import { createLogger } from '../../../gateway/src/log/index.js';
import { QueueManager, Spool, enqueue, readHeaderBlock } from '../../../gateway/src/queue/index.js';
import { openState } from '../../../gateway/src/state/index.js';

type Script = (job: DeliveryJob) => DeliveryOutcome[];

async function setup(t: Test, script: Script, queue: Record<string, unknown> = {}) {
  const dir = t.testdir({});
  const config = parseConfig({ paths: { state: `${dir}/state`, spool: `${dir}/spool`, run: `${dir}/run` }, hostname: 'gw.test', queue, delivery: { scanIntervalMs: 50 } });
  const state = openState(config.paths.state);
  const spool = new Spool(config.paths.spool);
  const jobs: DeliveryJob[] = [];
  const bodies: string[] = [];
  const transport: Transport = {
    async deliver(job) {
      jobs.push(job);
      const chunks: Buffer[] = [];
      for await (const c of job.openBody()) chunks.push(c as Buffer);
      bodies.push(Buffer.concat(chunks).toString());
      return script(job);
    },
    async close() {},
  };
  const route: Route = { kind: 'maildir', key: 'maildir:test', path: dir };
  const log = createLogger({ level: 'silent', role: 'test' });
  const manager = new QueueManager(config, { routeFor: () => route, transportFor: () => transport }, state, spool, log);
  t.teardown(async () => { await manager.stop(); await state.close(); });
  async function queueMessage(rcpts: string[], from = 'sender@example.org', body = 'Subject: hi\r\nMessage-ID: <m1@x>\r\n\r\nhello\r\n'): Promise<string> {
    const qid = newQid();
    const where = await spool.write(qid, Buffer.from('Received: test\r\n'), Readable.from([Buffer.from(body)]));
    const now = Date.now();
    const entry: QueueEntry = {
      qid, state: 'incoming', direction: 'inbound', listener: 'mx', client: '127.0.0.1', helo: 'c', authUser: null, mailFrom: from,
      recipients: rcpts.map((address) => ({ address, state: 'pending', attempts: 0 })), size: body.length, body: where, messageId: '<m1@x>',
      bodyType: '7bit', smtpUtf8: false, receivedAt: now, nextAttemptAt: now, attempts: 0,
      headerEdits: [{ op: 'prepend', name: 'X-Test', value: 'yes' }], isBounce: false, delayWarned: false,
      receipt: { from, client: '127.0.0.1', score: 0 },
    };
    await enqueue(state, entry);
    return qid;
  }
  const until = async (cond: () => boolean, ms = 5000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { manager, state, spool, jobs, bodies, queueMessage, until, config };
}

const ok = (job: DeliveryJob): DeliveryOutcome[] => job.recipients.map((r) => ({ recipient: r, status: 'delivered', dsn: '2.0.0', response: '250 ok', relay: 'sink' }));

t.test('delivered message leaves the queue, with header edits applied', async (t) => {
  const s = await setup(t, ok);
  s.manager.start();
  const qid = await s.queueMessage(['a@example.test', 'b@example.test']);
  s.manager.wake();
  await s.until(() => s.manager.show(qid) === null);
  t.equal(s.jobs.length, 1, 'one job for both recipients on the same route');
  t.match(s.bodies[0], /^X-Test: yes\r\nReceived: test\r\nSubject: hi/);
  const events = s.manager.trace(qid).map((e) => e.event);
  t.same(events, ['queued', 'delivered', 'delivered', 'removed']);
});

t.test('a deferred recipient stays with a later due time; flush retries it now', async (t) => {
  let fail = true;
  const s = await setup(t, (job) => job.recipients.map((r) => fail
    ? { recipient: r, status: 'deferred', dsn: '4.4.1', response: 'connect refused', relay: 'sink' }
    : { recipient: r, status: 'delivered', dsn: '2.0.0', response: '250 ok', relay: 'sink' }));
  s.manager.start();
  const qid = await s.queueMessage(['a@example.test']);
  s.manager.wake();
  await s.until(() => s.manager.show(qid)?.state === 'deferred');
  const e = s.manager.show(qid)!;
  t.equal(e.attempts, 1);
  t.ok(e.nextAttemptAt > Date.now() + 30_000, 'next attempt follows the schedule');
  t.equal(e.recipients[0]?.lastResponse, 'connect refused');
  fail = false;
  t.equal(await s.manager.flush(), 1);
  await s.until(() => s.manager.show(qid) === null);
  t.equal(s.jobs.length, 2);
});

t.test('a permanent failure queues a DSN to the sender before the original is removed', async (t) => {
  const s = await setup(t, (job) => job.recipients.map((r) => r.startsWith('bad')
    ? { recipient: r, status: 'bounced', dsn: '5.1.1', response: '550 5.1.1 no such user', relay: 'mx.example.test[127.0.0.1]:25' }
    : { recipient: r, status: 'delivered', dsn: '2.0.0', response: '250 ok', relay: 'sink' }));
  s.manager.start();
  const qid = await s.queueMessage(['bad@example.test', 'good@example.test']);
  s.manager.wake();
  await s.until(() => s.jobs.some((j) => j.entry.isBounce));
  const dsnJob = s.jobs.find((j) => j.entry.isBounce)!;
  t.equal(dsnJob.entry.mailFrom, '', 'DSN comes from the null sender');
  t.same(dsnJob.recipients, ['sender@example.org']);
  const body = s.bodies[s.jobs.indexOf(dsnJob)]!;
  t.match(body, /Content-Type: multipart\/report; report-type=delivery-status/);
  t.match(body, /Final-Recipient: rfc822; bad@example.test\r\nAction: failed\r\nStatus: 5\.1\.1/);
  t.match(body, /Diagnostic-Code: smtp; 550 5\.1\.1 no such user/);
  t.match(body, /Message-ID: <m1@x>/, 'original headers returned');
  t.notMatch(body, /^hello$/m, 'original body not returned');
  t.notMatch(body, /good@example.test/, 'delivered recipient not reported');
  await s.until(() => s.manager.show(qid) === null);
});

t.test('no DSN for the null sender; a bounced DSN is not bounced again', async (t) => {
  const s = await setup(t, (job) => job.recipients.map((r) => ({ recipient: r, status: 'bounced', dsn: '5.1.1', response: '550 no', relay: 'x' })));
  s.manager.start();
  const qid = await s.queueMessage(['bad@example.test'], '');
  s.manager.wake();
  await s.until(() => s.manager.show(qid) === null);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(s.jobs.length, 1, 'nothing else was sent');
});

t.test('expiry: pending recipients past the lifetime bounce with a DSN', async (t) => {
  const s = await setup(t, (job) => job.recipients.map((r) => ({ recipient: r, status: 'deferred', dsn: '4.4.1', response: 'connect timeout', relay: 'x' })), { maxLifetimeMs: 1 });
  s.manager.start();
  const qid = await s.queueMessage(['slow@example.test']);
  s.manager.wake();
  await s.until(() => s.manager.show(qid) === null);
  await s.until(() => s.jobs.some((j) => j.entry.isBounce));
  t.ok(s.manager.trace(qid).some((e) => e.event === 'expired'), 'trace says expired');
  const dsn = s.bodies[s.jobs.findIndex((j) => j.entry.isBounce)]!;
  t.match(dsn, /Status: 4\.4\.1/);
});

t.test('hold, release and delete', async (t) => {
  let n = 0;
  const s = await setup(t, (job) => { n++; return ok(job); });
  const qid = await s.queueMessage(['a@example.test']);
  t.ok(await s.manager.hold(qid));
  t.notOk(await s.manager.hold(qid), 'already held');
  s.manager.start();
  await new Promise((r) => setTimeout(r, 200));
  t.equal(n, 0, 'held mail is not delivered');
  t.equal(s.manager.counts().hold, 1);
  t.ok(await s.manager.release(qid));
  await s.until(() => s.manager.show(qid) === null);
  const qid2 = await s.queueMessage(['b@example.test']);
  await s.manager.hold(qid2);
  t.ok(await s.manager.remove(qid2));
  t.notOk(existsSync(s.spool.pathOf(qid2)));
  t.notOk(await s.manager.remove(qid2));
});

t.test('garbage collection: unreferenced data goes, queued bodies stay (segment and file)', async (t) => {
  const s = await setup(t, ok);
  const small = await s.queueMessage(['a@example.test']);
  const big = await s.queueMessage(['b@example.test'], 'x@example.org', `Subject: big\r\nMessage-ID: <m1@x>\r\n\r\n${'y'.repeat(400 * 1024)}\r\n`);
  t.equal(s.manager.show(small)?.body.kind, 'segment');
  t.equal(s.manager.show(big)?.body.kind, 'file');
  // A crash leftover: a body file without a record, and a sealed segment nobody points into.
  await s.spool.writeBuffer('ORPHAN', Buffer.alloc(300 * 1024, 'z'));
  t.ok(existsSync(s.spool.pathOf('ORPHAN')));
  writeFileSync(join(s.spool.segDir, '1.1.1'), 'garbage');
  t.same(s.manager.collectGarbage(true), { segments: 1, files: 1 });
  t.notOk(existsSync(s.spool.pathOf('ORPHAN')));
  t.ok(existsSync(s.spool.pathOf(big)));
  t.match(await readHeaderBlock(s.spool.open(small, s.manager.show(small)!.body)), /Message-ID: <m1@x>/);
  t.equal(readFileSync(s.spool.pathOf(big), 'utf8').slice(0, 8), 'Received');
  // Once delivered, the file is unlinked and the (sealed) segment collected.
  s.manager.start();
  s.manager.wake();
  await s.until(() => s.manager.show(small) === null && s.manager.show(big) === null);
  t.notOk(existsSync(s.spool.pathOf(big)));
  s.spool.close();
  t.same(s.manager.collectGarbage(true), { segments: 1, files: 0 });
  t.same(s.spool.listSegments(), []);
});

t.test('an entry whose body is gone moves to corrupt (kept, not retried, not deleted)', async (t) => {
  const s = await setup(t, ok);
  const qid = await s.queueMessage(['a@example.test'], 'x@example.org', `Subject: big\r\n\r\n${'y'.repeat(300 * 1024)}\r\n`);
  t.equal(s.manager.show(qid)?.body.kind, 'file');
  rmSync(s.spool.pathOf(qid));
  s.manager.start();
  s.manager.wake();
  await s.until(() => s.manager.show(qid)?.state === 'corrupt');
  t.equal(s.jobs.length, 0, 'nothing was sent');
  t.ok(s.manager.trace(qid).some((e) => e.event === 'corrupt' && /ENOENT/.test(String(e['problem']))), 'trace says why');
  t.equal(s.manager.counts().corrupt, 1);
});
