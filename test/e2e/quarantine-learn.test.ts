/*
 * test/e2e/quarantine-learn.test.ts — issue 4: spam quarantined by its class of service lands in
 * the quarantine store (not the queue), and `tuxhat quarantine learn spam|ham QID` trains the
 * daemon's Bayes store with it, recording who trained what; learning the same message again
 * changes nothing, learning it as the other class moves it.
 */
import t from 'tap';
import { admin, adminJson, makeMessage, SmtpClient, startGateway, startSink } from './harness/index.js';

interface Shown { record: { reason: string; history: Array<{ action: string; by: string }> } }

t.test('quarantine learn: a quarantined spam trains Bayes, who did is recorded', async (t) => {
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      hostname: 'gw.tuxhat.test',
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } } },
      // Every scored message is quarantined (an untrained Bayes scores ~0, so the threshold is negative).
      classes: { default: { inbound: { tag: null, quarantine: -100, reject: null } } },
      spam: { features: { enabled: false } },
    },
  });
  const c = await SmtpClient.connect(gw.ports.mx!);
  await c.ehlo('client.test');
  const r = await c.send({ from: 'x@client.test', to: ['bob@corp.test'], message: makeMessage({ to: 'bob@corp.test', subject: 'cheap watches', messageId: '<ql-1@client.test>' }) });
  await c.quit();
  t.equal(r.data?.code, 250, r.data?.raw.join(' | ') ?? '');
  const logged = await gw.waitForLog((l) => l.event === 'quarantined');
  const qid = String(logged['qid']);
  t.equal(logged['action'], 'quarantine');
  t.equal(sink.count(), 0, 'nothing delivered');

  const first = await adminJson<{ learned: string; result: string }>(gw, ['quarantine', 'learn', 'spam', qid], { env: { SUDO_USER: 'erin' } });
  t.same(first, { qid, learned: 'spam', result: 'learned' });
  const again = await adminJson<{ result: string }>(gw, ['quarantine', 'learn', 'spam', qid]);
  t.equal(again.result, 'unchanged', 'the same message is not counted twice');
  const moved = await adminJson<{ result: string }>(gw, ['quarantine', 'learn', 'ham', qid], { env: { SUDO_USER: 'frank' } });
  t.equal(moved.result, 'relearned', 'learning it as ham moves it');
  const shown = await adminJson<Shown>(gw, ['quarantine', 'show', qid]);
  t.match(shown.record.history.map((h) => `${h.action}:${h.by}`), ['quarantined:gateway', 'learned spam:erin', /^learned spam:/, 'learned ham:frank']);
  await gw.waitForLog((l) => l.event === 'learned' && l['qid'] === qid && l['as'] === 'ham');

  const bad = await admin(gw, ['quarantine', 'learn', 'maybe', qid]);
  t.not(bad.code, 0);
  t.match(bad.stderr, /quarantine learn spam QID or quarantine learn ham QID/);
  const unknown = await admin(gw, ['quarantine', 'learn', 'spam', '01M8G6P09XDSKC3DVM']);
  t.not(unknown.code, 0);
  t.match(unknown.stderr, /no quarantined message with queue id/);
});
