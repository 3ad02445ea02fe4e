/*
 * test/e2e/policy-outbound-hold.test.ts — compromised-account auto-hold (issue 5): an
 * authenticated user over the outbound limit (3 messages per window) keeps getting 250, but the
 * mail over the limit is put on HOLD, not delivered and not lost; the postmaster gets one notice
 * mail (and a ratelimit_hold log event); `tuxhat queue release` lets the held mail go, and it is
 * delivered.
 */
import t from 'tap';
import { join } from 'node:path';
import { admin, adminJson, makeMessage, SmtpClient, startDns, startGateway, startSink, tempDir, tuxhat, waitFor } from './harness/index.js';

const USER = 'alice@corp.test';
const PASSWORD = 'correct horse battery staple';
const HOUR = 3600_000;

t.test('outbound: over the limit is held, the postmaster alerted, release delivers', async (t) => {
  const dir = await tempDir(t, 'users');
  const usersFile = join(dir, 'users.yaml');
  t.equal((await tuxhat(['user', 'add', USER, '--file', usersFile], { input: `${PASSWORD}\n` })).code, 0);
  const remote = await startSink(t); // the smarthost: where outbound mail goes
  const corpBox = await startSink(t); // corp.test's internal server: where the postmaster reads mail
  const dns = await startDns(t, {});
  const gw = await startGateway(t, {
    readyListener: 'submission',
    config: {
      workers: 2,
      postmaster: 'postmaster@corp.test',
      usersFile,
      listeners: { submission: { kind: 'submission', tls: 'none', allowInsecureAuth: true } },
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [corpBox.hostPort], tls: 'none' } } },
      outbound: { mode: 'smarthost', hosts: [remote.hostPort], tls: 'none' },
      dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 },
      dkim: { enabled: false },
      rateLimits: { outbound: { user: [{ windowMs: HOUR, messages: 3 }, { windowMs: 24 * HOUR, recipients: 1000 }] } },
    },
  });
  const c = await SmtpClient.connect(gw.ports['submission']!);
  t.teardown(() => c.close());
  await c.ehlo('laptop.corp.test');
  t.equal((await c.auth(USER, PASSWORD)).code, 235, 'authenticated');
  const qids: string[] = [];
  for (let i = 1; i <= 5; i++) {
    const r = await c.send({ from: USER, to: [`bob${i}@remote.test`], message: makeMessage({ from: USER, to: `bob${i}@remote.test`, subject: `m${i}` }) });
    t.equal(r.data?.code, 250, `message ${i} accepted (250)`);
    qids.push(/queued as (\S+)/.exec(r.data?.text ?? '')?.[1] ?? '');
  }
  await c.quit();

  await remote.waitForMessages(3);
  const held = await adminJson<Array<{ qid: string; state: string }>>(gw, ['queue', 'list', '--state', 'hold']);
  t.same(held.map((e) => e.qid).sort(), qids.slice(3).sort(), 'messages 4 and 5 are on hold');
  const notices = await corpBox.waitForMessages(1);
  t.match(notices[0]!.get('subject') ?? '', /alice@corp\.test put on hold/, 'the postmaster got a notice');
  t.equal(notices[0]!.mailFrom, '', 'from <>');
  t.match(notices[0]!.body, /tuxhat queue release/, 'which says what to do');
  const ev = await gw.waitForLog((l) => l.event === 'ratelimit_hold');
  t.equal(ev['user'], USER, 'ratelimit_hold names the user');
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(remote.count(), 3, 'nothing held was delivered');
  t.equal(corpBox.count(), 1, 'one notice per window, not one per held message');
  const trace = await admin(gw, ['trace', qids[3]!]);
  t.match(trace.stdout, /RATELIMIT_HOLD/, 'trace explains why it was held');

  for (const qid of qids.slice(3)) {
    const r = await admin(gw, ['queue', 'release', qid]);
    t.equal(r.code, 0, `released ${qid}: ${r.stderr}`);
  }
  await remote.waitForMessages(5);
  const subjects = (await remote.messages()).map((m) => m.get('subject')).sort();
  t.same(subjects, ['m1', 'm2', 'm3', 'm4', 'm5'], 'all five delivered in the end: nothing lost');
  await waitFor(async () => (await adminJson<unknown[]>(gw, ['queue', 'list'])).length === 0, { what: 'an empty queue' });
});
