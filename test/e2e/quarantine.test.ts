/*
 * test/e2e/quarantine.test.ts — issue 4, the quarantine through the real daemon: antivirus
 * onVirus: quarantine with a real clamd (EICAR .ndb). An infected message to two recipients gets
 * 250 (stored durably, not queued: nothing reaches the internal server), survives a restart,
 * is listed (all, and per recipient), shown (reason, verdict, headers), released to one recipient
 * (the original reaches the sink through the normal queue; who released it is recorded), then
 * deleted for the other (who deleted it is recorded; the body is gone); the message's trace tells
 * the whole story. Errors: unknown qid 404, an already released recipient 409.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EICAR_TEST_STRING, SmtpClient, admin, adminJson, messageWithAttachment, startClamd, startGateway, startSink } from './harness/index.js';

interface Summary { qid: string; held: string[]; reason: string; direction: string; subject: string | null }
interface Shown {
  record: { qid: string; reason: string; hasBody: boolean; verdict: Record<string, unknown>; recipients: Array<{ address: string; state: string; by?: string; releasedAs?: string }>; history: Array<{ action: string; by: string }> };
  headers: string | null;
}

t.test('quarantine: stored, listed, shown, released, deleted', async (t) => {
  const clamd = await startClamd(t, { eicar: ['ndb'] });
  const inside = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [inside.hostPort], tls: 'none' } } },
      authentication: { enabled: false },
      antivirus: { socket: clamd.socket, onVirus: 'quarantine' },
    },
  });
  const message = messageWithAttachment({ subject: 'invoice 42', messageId: '<q1@client.test>', to: 'a@corp.test, b@corp.test', filename: 'invoice.com', content: EICAR_TEST_STRING() });
  const c = await SmtpClient.connect(gw.ports['mx']!);
  await c.ehlo('client.test');
  const r = await c.send({ from: 'sender@client.test', to: ['a@corp.test', 'b@corp.test'], message });
  await c.quit();
  t.equal(r.data?.code, 250, `accepted into quarantine: ${r.data?.raw.join(' | ') ?? ''}`);
  const qid = /queued as (\S+)/.exec(r.data?.text ?? '')?.[1] ?? '';
  t.match(qid, /^[0-9A-Z]{18}$/);
  const logged = await gw.waitForLog((l) => l.event === 'quarantined' && l.qid === qid);
  t.match(String(logged['av']), /^infected \(Test\.EICAR\.NDB\.UNOFFICIAL\)/);
  t.ok(existsSync(join(gw.dir, 'spool', 'quarantine', qid)), 'the body is in the quarantine directory');

  await gw.restart();
  t.equal(inside.count(), 0, 'nothing was delivered');

  await t.test('list (all, per recipient) and show', async (t) => {
    const all = await adminJson<Summary[]>(gw, ['quarantine', 'list']);
    t.equal(all.length, 1, 'still there after a restart');
    t.equal(all[0]!.qid, qid);
    t.same(all[0]!.held, ['a@corp.test', 'b@corp.test']);
    t.match(all[0]!.reason, /virus Test\.EICAR\.NDB\.UNOFFICIAL/);
    t.equal(all[0]!.subject, 'invoice 42');
    t.equal((await adminJson<Summary[]>(gw, ['quarantine', 'list', 'B@corp.test'])).length, 1, 'per recipient, any case');
    t.equal((await adminJson<Summary[]>(gw, ['quarantine', 'list', 'nobody@corp.test'])).length, 0);
    const text = await admin(gw, ['quarantine', 'list']);
    t.match(text.stdout, new RegExp(`${qid}\\s+inbound`));
    t.match(text.stdout, /1 message in quarantine/);
    const shown = await adminJson<Shown>(gw, ['quarantine', 'show', qid.toLowerCase()]);
    t.equal(shown.record.qid, qid);
    t.match(shown.headers ?? '', /^Received: from client\.test/m, 'our Received header first');
    t.match(shown.headers ?? '', /^Subject: invoice 42$/m);
    t.match(JSON.stringify(shown.record.verdict['symbols']), /AV_VIRUS/);
    const human = await admin(gw, ['quarantine', 'show', qid]);
    t.match(human.stdout, /Reason: +virus Test\.EICAR/);
    t.match(human.stdout, /a@corp\.test +held/);
  });

  await t.test('release to one recipient: the original goes through the queue to the sink', async (t) => {
    const rel = await admin(gw, ['quarantine', 'release', qid, 'a@corp.test'], { env: { SUDO_USER: 'carol' } });
    t.equal(rel.code, 0, rel.stderr);
    t.match(rel.stdout, new RegExp(`${qid}: released to a@corp\\.test; queued as [0-9A-Z]{18}`));
    const [m] = await inside.waitForMessages(1);
    t.same(m!.rcptTo, ['a@corp.test'], 'only the released recipient');
    t.equal(m!.messageId, '<q1@client.test>');
    t.match(m!.body, /Content-Disposition: attachment; filename="invoice\.com"/, 'the original, attachment included');
    const shown = await adminJson<Shown>(gw, ['quarantine', 'show', qid]);
    const a = shown.record.recipients.find((x) => x.address === 'a@corp.test')!;
    t.equal(a.state, 'released');
    t.equal(a.by, 'carol', 'who released it is recorded');
    t.match(a.releasedAs ?? '', /^[0-9A-Z]{18}$/);
    t.equal(shown.record.recipients.find((x) => x.address === 'b@corp.test')!.state, 'held');
    const again = await admin(gw, ['quarantine', 'release', qid, 'a@corp.test']);
    t.equal(again.code, 1);
    t.match(again.stderr, /a@corp\.test of .* is already released/);
  });

  await t.test('delete for the rest: recorded, body removed, list empty, trace tells the story', async (t) => {
    const del = await admin(gw, ['quarantine', 'delete', qid], { env: { SUDO_USER: 'dave' } });
    t.equal(del.code, 0, del.stderr);
    t.match(del.stdout, /deleted for b@corp\.test/);
    t.same(await adminJson<Summary[]>(gw, ['quarantine', 'list']), []);
    const shown = await adminJson<Shown>(gw, ['quarantine', 'show', qid]);
    t.equal(shown.record.recipients.find((x) => x.address === 'b@corp.test')!.by, 'dave');
    t.equal(shown.record.hasBody, false);
    t.equal(shown.headers, null);
    t.same(shown.record.history.map((h) => `${h.action}:${h.by}`), ['quarantined:gateway', 'released:carol', 'deleted:dave']);
    t.notOk(existsSync(join(gw.dir, 'spool', 'quarantine', qid)), 'the body file is gone');
    const trace = await adminJson<Array<{ event: string }>>(gw, ['trace', qid]);
    t.same(trace.map((e) => e.event), ['quarantined', 'released', 'removed']);
    await new Promise((r) => setTimeout(r, 500));
    t.equal(inside.count(), 1, 'b never got it');
  });

  await t.test('errors: unknown queue id 404, nothing left to release 409', async (t) => {
    const unknown = await admin(gw, ['quarantine', 'show', '01M8G6P09XDSKC3DVM']);
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /no quarantined message with queue id/);
    const none = await admin(gw, ['quarantine', 'release', qid]);
    t.equal(none.code, 1);
    t.match(none.stderr, /has no recipient left in quarantine/);
  });
});
