/*
 * Unit tests of quarantine/store.ts and release.ts on a real LMDB environment in a temp dir:
 * put is durable (body file + record), a second put of the qid adds recipients, list per
 * recipient, targets (404/409), settle records who and removes the body when nobody is held,
 * release writes a queue entry through the spool, the retention sweep, orphan body files.
 */
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseConfig } from '../../../gateway/src/config/index.js';
import { newQid } from '../../../gateway/src/core/index.js';
import { createLogger } from '../../../gateway/src/log/index.js';
import { QuarantineStore, quarantineAdmin } from '../../../gateway/src/quarantine/index.js';
import { Spool } from '../../../gateway/src/queue/index.js';
import { openState } from '../../../gateway/src/state/index.js';

const dir = mkdtempSync(join(tmpdir(), 'th-quarantine-'));
const config = parseConfig({ paths: { state: join(dir, 'state'), spool: join(dir, 'spool') }, quarantine: { retentionMs: 3600_000 } });
const state = openState(config.paths.state);
const spool = new Spool(config.paths.spool);
const store = new QuarantineStore(state, config);
t.teardown(async () => {
  spool.close();
  await state.close();
  rmSync(dir, { recursive: true, force: true });
});

const body = 'Received: from x\r\nSubject: hello\r\n\r\nbody\r\n';
const put = (qid: string, recipients: string[], b: Buffer | Readable = Buffer.from(body)) => store.put({
  qid, direction: 'inbound', envelope: { mailFrom: 's@client.test', bodyType: '7bit', smtpUtf8: false }, recipients,
  reason: 'virus V', verdict: { client: '192.0.2.1', score: 100, symbols: ['AV_VIRUS(100)'] }, body: b, subject: 'hello',
  headerEdits: [{ op: 'prepend', name: 'X-Test', value: '1' }],
});

t.test('put stores body and record; a second put adds recipients', async (t) => {
  const qid = newQid();
  const r = await put(qid, ['a@corp.test'], Readable.from([Buffer.from(body)]));
  t.equal(r.size, body.length);
  t.equal(readFileSync(store.pathOf(qid), 'utf8'), body);
  t.notOk(existsSync(`${store.pathOf(qid)}.tmp`));
  await put(qid, ['a@corp.test', 'b@corp.test']);
  t.same(store.get(qid)!.recipients.map((x) => `${x.address}:${x.state}`), ['a@corp.test:held', 'b@corp.test:held']);
  t.equal(store.list({ recipient: 'B@CORP.TEST' }).length, 1);
  t.equal(store.list({ recipient: 'c@corp.test' }).length, 0);
  t.match(store.headers(qid), /^Subject: hello\r\n$/m);
  const events = [...state.trace.getRange({ start: [qid], end: [`${qid}~`] })].map((e) => e.value.event);
  t.same(events, ['quarantined', 'quarantined']);
});

t.test('targets, settle and delete: who is recorded, the body goes when nobody is held', async (t) => {
  const qid = newQid();
  await put(qid, ['a@corp.test', 'b@corp.test']);
  t.throws(() => store.targets(newQid(), []), { status: 404, message: /no quarantined message/ });
  t.throws(() => store.targets(qid, ['x@corp.test']), { status: 409, message: /not a recipient/ });
  const q = quarantineAdmin({ store, state, spool, log: createLogger({ level: 'fatal', role: 'test' }), wake: () => undefined });
  const d = await q.delete(qid, ['A@corp.test'], 'carol');
  t.same(d, { qid, deleted: ['a@corp.test'] });
  t.ok(existsSync(store.pathOf(qid)), 'b is still held: the body stays');
  t.throws(() => store.targets(qid, ['a@corp.test']), { status: 409, message: /already deleted/ });
  const rel = await q.release(qid, [], 'dave');
  t.same(rel.released, ['b@corp.test']);
  const entry = state.queue.get(rel.queuedAs)!;
  t.equal(entry.listener, 'quarantine');
  t.same(entry.recipients.map((r) => r.address), ['b@corp.test']);
  t.same(entry.headerEdits, [{ op: 'prepend', name: 'X-Test', value: '1' }]);
  t.match(entry.receipt, { releasedFrom: qid, releasedBy: 'dave' });
  t.equal(state.due.get([entry.nextAttemptAt, rel.queuedAs]), 1, 'due for delivery');
  const chunks: Buffer[] = [];
  for await (const c of spool.open(rel.queuedAs, entry.body, entry.size)) chunks.push(c as Buffer);
  t.equal(Buffer.concat(chunks).toString(), body, 'the original is in the spool');
  const after = store.get(qid)!;
  t.equal(after.hasBody, false);
  t.notOk(existsSync(store.pathOf(qid)));
  t.same(after.recipients.map((r) => [r.state, r.by]), [['deleted', 'carol'], ['released', 'dave']]);
  t.notOk((await q.list({})).some((x) => x.qid === qid), 'not listed: nothing held');
  t.ok((await q.list({ all: true })).some((x) => x.qid === qid), 'listed with all');
});

t.test('a released outbound message is DKIM-signed like at receipt (inbound is not)', async (t) => {
  const keysDir = join(dir, 'dkim');
  mkdirSync(join(keysDir, 'corp.test'), { recursive: true });
  writeFileSync(join(keysDir, 'corp.test', 'ed.key'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const signing = parseConfig({ paths: { state: join(dir, 'state'), spool: join(dir, 'spool') }, dkim: { keysDir } });
  const q = quarantineAdmin({ store, state, spool, log: createLogger({ level: 'fatal', role: 'test' }), wake: () => undefined, config: () => signing });
  const message = 'Received: from x\r\nFrom: Alice <alice@corp.test>\r\nTo: bob@remote.test\r\nSubject: s\r\n\r\nbody\r\n';
  const outbound = newQid();
  await store.put({ qid: outbound, direction: 'outbound', envelope: { mailFrom: 'alice@corp.test', bodyType: '7bit', smtpUtf8: false }, recipients: ['bob@remote.test'], reason: 'virus V', verdict: {}, body: Buffer.from(message) });
  const rel = await q.release(outbound, [], 'carol');
  const edits = state.queue.get(rel.queuedAs)!.headerEdits;
  t.equal(edits[0]?.op === 'prepend' && edits[0].name, 'DKIM-Signature');
  t.match(edits[0]?.op === 'prepend' ? edits[0].value : '', /d=corp\.test; s=ed;/);
  const inbound = newQid();
  await store.put({ qid: inbound, direction: 'inbound', envelope: { mailFrom: 'alice@corp.test', bodyType: '7bit', smtpUtf8: false }, recipients: ['u@corp.test'], reason: 'virus V', verdict: {}, body: Buffer.from(message) });
  const rel2 = await q.release(inbound, [], 'carol');
  t.same(state.queue.get(rel2.queuedAs)!.headerEdits, [], 'inbound mail is not signed');
});

t.test('the retention sweep removes expired records and bodies; orphan files are found', async (t) => {
  const qid = newQid();
  await put(qid, ['a@corp.test']);
  t.equal(await store.sweep(Date.now()), 0, 'nothing expired yet');
  const n = await store.sweep(Date.now() + 3600_000 + 1);
  t.ok(n >= 1);
  t.equal(store.get(qid), null);
  t.notOk(existsSync(store.pathOf(qid)));
  writeFileSync(join(store.dir, 'ORPHAN'), 'x');
  t.same(store.orphanFiles(), ['ORPHAN']);
});
