/*
 * test/e2e/disk-full.test.ts — a full spool is a 4xx, never a loss (ARCHITECTURE contract 3).
 *
 * The spool (paths.spool) is a 2 MiB tmpfs mounted for this test (we run as root); the LMDB state
 * stays on the normal disk. With the next hop down, messages stay queued and fill the spool;
 * then new mail gets `452 4.3.1`; nothing accepted is lost (after space is freed and the next hop
 * is back, every accepted message arrives, none of the refused ones); and the gateway accepts
 * again once there is space.
 */
import t from 'tap';
import { mkdtemp, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admin, isRoot, makeMessage, run, SmtpClient, startGateway, startSink, waitFor, type SmtpReply } from './harness/index.js';

const SPOOL_SIZE = '2m';

t.test('spool on a full filesystem: 452 4.3.1, nothing accepted is lost, recovers', async (t) => {
  if (!isRoot()) {
    t.fail('this test mounts a tmpfs and must run as root (CI does)');
    return;
  }
  const mnt = await mkdtemp(join(tmpdir(), 'tuxhat-e2e-spoolfs-'));
  const mount = await run('mount', ['-t', 'tmpfs', '-o', `size=${SPOOL_SIZE},mode=0755`, 'tmpfs', mnt]);
  if (mount.code !== 0) {
    await rmdir(mnt).catch(() => undefined);
    t.fail(`cannot mount a tmpfs at ${mnt}: ${mount.stderr.trim()}`);
    return;
  }
  let gwStop: (() => Promise<unknown>) | undefined;
  t.teardown(async () => {
    await gwStop?.(); // the daemon must let go of the mount first
    const u = await run('umount', [mnt]);
    if (u.code !== 0) await run('umount', ['-l', mnt]);
    await rmdir(mnt).catch(() => rm(mnt, { recursive: true, force: true }));
  });

  const next = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      paths: { spool: mnt },
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [next.hostPort], tls: 'none' } } },
      queue: { scheduleMs: [600_000] },
      delivery: { scanIntervalMs: 250 },
    },
  });
  gwStop = () => gw.stop();
  await next.stop(); // next hop down: everything accepted stays in the spool

  const mx = gw.ports['mx']!;
  // Half the filesystem goes to a reserve file now; deleting it later is "the postmaster freed space".
  const reserve = join(mnt, 'reserve');
  await writeFile(reserve, Buffer.alloc(1024 * 1024));
  const big = `${'0123456789abcdef'.repeat(63)}\r\n`.repeat(100); // ~100 KiB
  const accepted = new Set<string>();
  const refused = new Set<string>();
  let seq = 0;

  const c = await SmtpClient.connect(mx, { timeoutMs: 15_000 });
  t.teardown(() => c.close());
  await c.ehlo('client.test');
  const sendOne = async (body: string): Promise<{ id: string; reply: SmtpReply | undefined }> => {
    const id = `<full-${seq++}@client.test>`;
    const r = await c.send({ from: 'sender@client.test', to: ['user@corp.test'], message: makeMessage({ messageId: id, body }) });
    if (r.ok) accepted.add(id);
    else refused.add(id);
    return { id, reply: r.data ?? r.rcpt[0] ?? r.mail };
  };

  // 1. Fill the spool with queued ~100 KiB messages until the gateway says 452.
  let first452: SmtpReply | undefined;
  for (let i = 0; i < 60 && !first452; i++) {
    const { reply } = await sendOne(big);
    if (reply && reply.code !== 250) first452 = reply;
  }
  t.ok(accepted.size >= 3, `${accepted.size} messages accepted before the spool filled`);
  t.ok(first452, 'a message was refused once the spool was full');
  t.equal(first452?.code, 452, `refused with 452: ${first452?.raw.join(' | ')}`);
  t.match(first452?.text ?? '', /^4\.3\.1 /, 'enhanced code 4.3.1 (insufficient system storage)');
  await gw.waitForLog((l) => l.event === 'reject' && /ENOSPC|no space/i.test(String(l['err'])), { what: 'the ENOSPC logged' });

  // 2. Small messages: they may still fit where the refused message's partial write left
  //    allocated space (a spool may reuse it), but once that is used up every new message must
  //    get 452 4.3.1 — never a 250 it cannot keep.
  const small = `${'small message line of text '.repeat(3)}\r\n`.repeat(25); // ~2 KiB
  let smallAccepted = 0;
  let small452: SmtpReply | undefined;
  for (let i = 0; i < 400 && !small452; i++) {
    const { reply } = await sendOne(small);
    if (reply?.code === 250) smallAccepted++;
    else small452 = reply;
  }
  t.comment(`${smallAccepted} small messages still fitted after the first 452`);
  t.equal(small452?.code, 452, `a small message on the full spool gets 452: ${small452?.raw.join(' | ')}`);
  for (let i = 0; i < 3; i++) {
    const { reply } = await sendOne(small);
    t.equal(reply?.code, 452, `another small message on the full spool: ${reply?.raw.join(' | ')}`);
    t.match(reply?.text ?? '', /^4\.3\.1 /, 'with 4.3.1');
  }
  // A message too large for a shared segment (> 256 KiB, stored on its own) is refused the same way.
  const huge = big.repeat(3); // ~300 KiB
  const hugeRes = await sendOne(huge);
  t.equal(hugeRes.reply?.code, 452, `a ~300 KiB message on the full spool: ${hugeRes.reply?.raw.join(' | ')}`);
  // The session is still usable after a 452 (a 4xx is not a disconnect).
  const noop = await c.command('NOOP');
  t.equal(noop.code, 250, 'the session survives the 452s');

  // 3. Space comes back: the gateway accepts again, without a restart.
  await unlink(reserve);
  const again = await sendOne(small);
  t.equal(again.reply?.code, 250, `a small message is accepted again after space was freed: ${again.reply?.raw.join(' | ')}`);
  const againBig = await sendOne(big);
  t.equal(againBig.reply?.code, 250, `and a large one: ${againBig.reply?.raw.join(' | ')}`);
  const againHuge = await sendOne(huge);
  t.equal(againHuge.reply?.code, 250, `and a ~300 KiB one: ${againHuge.reply?.raw.join(' | ')}`);
  await c.quit();

  const list = await admin(gw, ['queue', 'list', '--json']);
  const queued = JSON.parse(list.stdout) as unknown[];
  t.equal(queued.length, accepted.size, `every accepted message is in the queue (${queued.length})`);

  // 4. Bring the next hop back: everything accepted arrives, nothing refused does.
  await next.restart();
  const flush = await admin(gw, ['queue', 'flush']);
  t.equal(flush.code, 0, `flush: ${flush.stdout}${flush.stderr}`);
  const msgs = await next.waitForMessages(accepted.size, 30_000);
  const ids = new Set(msgs.map((m) => m.messageId ?? ''));
  t.same([...accepted].filter((id) => !ids.has(id)), [], `all ${accepted.size} accepted messages delivered`);
  t.same([...refused].filter((id) => ids.has(id)), [], `none of the ${refused.size} refused messages delivered`);
  const bigOk = msgs.filter((m) => m.body.length > 90_000);
  t.ok(bigOk.length > 0 && bigOk.every((m) => [big, huge].includes(m.body.replace(/\n/g, '\r\n'))), 'large bodies intact');
  t.ok(msgs.some((m) => m.body.replace(/\n/g, '\r\n') === huge), 'the ~300 KiB message intact');
  await waitFor(async () => {
    const r = await admin(gw, ['queue', 'list', '--json']);
    return (JSON.parse(r.stdout) as unknown[]).length === 0;
  }, { timeoutMs: 15_000, what: 'an empty queue' });
});
