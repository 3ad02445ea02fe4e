/*
 * test/e2e/antivirus.test.ts — issue 4, antivirus through the real daemon and a real clamd (the
 * harness' private clamd with a signature database made here: EICAR as .hdb and .ndb, and an .hdb
 * signature for a test zip made with python3 zipfile).
 *
 * Inbound (mx): EICAR in a base64 attachment, in a zip, in a nested zip, and the custom zip
 * signature are refused with 554 5.7.1 and nothing reaches the internal server; clean mail is
 * delivered; the verdict log line carries `av`. Outbound (submission, AUTH): a virus is refused
 * with 554 and the postmaster gets an alert mail through the normal queue. clamd stopped → 451
 * 4.7.1 and the message retried after clamd is back is delivered (nothing lost). A clamd that
 * accepts and never answers → 451 within the deadline; with onUnscanned: pass the message is
 * delivered with X-TuxHat-Virus-Scan: unscanned. No clamd socket with enabled: auto → the start-up
 * log says antivirus is off.
 */
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { EICAR_TEST_STRING, SmtpClient, makeMessage, messageWithAttachment, startClamd, startGateway, startSink, tempDir, tuxhat, zipFiles } from './harness/index.js';

const USER = 'alice@corp.test';
const PASSWORD = 'virus test password';

t.test('antivirus with a real clamd', async (t) => {
  const testZip = zipFiles({ 'readme.txt': 'the harmless content of the TuxHat test zip\n' });
  const clamd = await startClamd(t, { eicar: ['hdb', 'ndb'], hashes: { 'TuxHat.Test.Zip': testZip }, tcp: true });
  const dir = await tempDir(t, 'users');
  const usersFile = join(dir, 'users.yaml');
  const add = await tuxhat(['user', 'add', USER, '--file', usersFile], { input: `${PASSWORD}\n` });
  t.equal(add.code, 0, 'user added');
  const inside = await startSink(t); // corp.test's internal server; the postmaster's mailbox too
  const internet = await startSink(t); // the smarthost for outbound mail
  const gwConfig = {
    hostname: 'gw.tuxhat.test',
    postmaster: 'postmaster@corp.test',
    usersFile,
    listeners: { mx: { kind: 'mx', tls: 'none' }, submission: { kind: 'submission', tls: 'none', allowInsecureAuth: true } },
    domains: { 'corp.test': { route: { transport: 'smtp', hosts: [inside.hostPort], tls: 'none' } } },
    outbound: { mode: 'smarthost', hosts: [internet.hostPort], tls: 'none' },
    authentication: { enabled: false },
    antivirus: { socket: clamd.socket, timeoutMs: 5000 },
    queue: { scheduleMs: [500] },
  };
  const gw = await startGateway(t, { config: gwConfig });
  t.ok(gw.logs().some((l) => /antivirus on: clamd at/.test(String(l.msg))), 'the start-up log says antivirus is on');
  const mx = gw.ports['mx']!;

  const sendMx = async (message: string) => {
    const c = await SmtpClient.connect(mx);
    try {
      await c.ehlo('client.test');
      return await c.send({ from: 'sender@client.test', to: ['user@corp.test'], message });
    } finally {
      await c.quit().catch(() => undefined);
    }
  };
  const eicar = EICAR_TEST_STRING();
  const infected: Array<[string, string, RegExp]> = [
    ['EICAR in a base64 attachment', messageWithAttachment({ filename: 'eicar.com', content: eicar }), /Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL/],
    ['EICAR inside a zip', messageWithAttachment({ filename: 'invoice.zip', content: zipFiles({ 'eicar.com': eicar }), contentType: 'application/zip' }), /Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL/],
    ['EICAR inside a nested zip', messageWithAttachment({ filename: 'outer.zip', content: zipFiles({ 'inner.zip': zipFiles({ 'docs/eicar.txt': eicar }), 'note.txt': 'hi' }), contentType: 'application/zip' }), /Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL/],
    ['the test zip (custom .hdb signature)', messageWithAttachment({ filename: 'test.zip', content: testZip, contentType: 'application/zip' }), /TuxHat\.Test\.Zip\.UNOFFICIAL/],
  ];
  for (const [what, message, virus] of infected) {
    await t.test(`${what}: 554 5.7.1 in the session`, async (t) => {
      const r = await sendMx(message);
      t.equal(r.data?.code, 554, `refused: ${r.data?.raw.join(' | ')}`);
      t.match(r.data?.text ?? '', /^5\.7\.1 Message rejected: virus found: /);
      t.match(r.data?.text ?? '', virus, 'the reply names the signature');
      const line = await gw.waitForLog((l) => l.event === 'reject' && typeof l['av'] === 'string' && virus.test(String(l['av'])), { what: 'the reject line with av' });
      t.match(String(line['av']), /^infected \(/);
      t.match(String(line['response']), /^554 5\.7\.1/);
    });
  }

  await t.test('each signature form works on its own, also inside a base64 attachment', async (t) => {
    const attached = messageWithAttachment({ filename: 'eicar.com', content: eicar });
    t.match(await clamd.scan(eicar), /Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL FOUND/);
    const hdbOnly = await startClamd(t, { eicar: ['hdb'] });
    t.match(await hdbOnly.scan(attached), /Test\.EICAR\.HDB\.UNOFFICIAL FOUND/, '.hdb (MD5 of the decoded attachment)');
    await hdbOnly.stop();
    const ndbOnly = await startClamd(t, { eicar: ['ndb'] });
    t.match(await ndbOnly.scan(attached), /Test\.EICAR\.NDB\.UNOFFICIAL FOUND/, '.ndb (body signature)');
    await ndbOnly.stop();
    t.match(await clamd.scan(testZip), /TuxHat\.Test\.Zip\.UNOFFICIAL FOUND/);
    t.match(await clamd.scan(zipFiles({ 'readme.txt': 'something else' })), /stream: OK/);
  });

  await t.test('clean mail (with a zip) is delivered, av=clean in the log', async (t) => {
    const message = messageWithAttachment({ filename: 'report.zip', content: zipFiles({ 'report.txt': 'quarterly numbers\n' }), messageId: '<clean-1@client.test>' });
    const r = await sendMx(message);
    t.equal(r.data?.code, 250, r.data?.raw.join(' | ') ?? '');
    const [m] = await inside.waitForMessages(1);
    t.equal(m!.messageId, '<clean-1@client.test>');
    const queued = await gw.waitForLog((l) => l.event === 'queued' && l['msgid'] === '<clean-1@client.test>');
    t.equal(queued['av'], 'clean');
    t.equal(inside.count(), 1, 'none of the infected messages reached the internal server');
  });

  await t.test('outbound: a virus from an authenticated user is refused and alerts the postmaster', async (t) => {
    inside.clear();
    const c = await SmtpClient.connect(gw.ports['submission']!);
    t.teardown(() => c.close());
    await c.ehlo('laptop.corp.test');
    t.equal((await c.auth(USER, PASSWORD)).code, 235, 'authenticated');
    const r = await c.send({ from: USER, to: ['bob@remote.test'], message: messageWithAttachment({ from: USER, to: 'bob@remote.test', filename: 'eicar.com', content: eicar }) });
    t.equal(r.data?.code, 554, `refused: ${r.data?.raw.join(' | ')}`);
    t.match(r.data?.text ?? '', /^5\.7\.1 /);
    await c.quit();
    const alert = await gw.waitForLog((l) => l.event === 'alert', { what: 'the alert log line' });
    t.equal(alert['user'], USER);
    t.match(String(alert['virus']), /Test\.EICAR/);
    const [m] = await inside.waitForMessages(1);
    t.same(m!.rcptTo, ['postmaster@corp.test'], 'the alert goes to the postmaster');
    t.equal(m!.mailFrom, '', 'from the null sender (no bounce loops)');
    t.match(m!.get('subject') ?? '', /virus sent by an internal sender: Test\.EICAR/);
    t.match(m!.body, new RegExp(`Authenticated: +${USER.replace('.', '\\.')}`));
    t.notMatch(m!.message, /EICAR-STANDARD/, 'the alert carries no message content');
    t.equal(internet.count(), 0, 'nothing went out to the internet');
  });

  await t.test('clamd stopped → 451 4.7.1, nothing lost: the retry after clamd is back is delivered', async (t) => {
    inside.clear();
    await clamd.stop();
    const message = makeMessage({ messageId: '<while-down@client.test>' });
    const r = await sendMx(message);
    t.equal(r.data?.code, 451, `deferred: ${r.data?.raw.join(' | ')}`);
    t.match(r.data?.text ?? '', /^4\.7\.1 Content scan temporarily unavailable/);
    const line = await gw.waitForLog((l) => l.event === 'reject' && l['msgid'] === '<while-down@client.test>');
    t.equal(line['av'], 'unscanned');
    await clamd.restart();
    const again = await sendMx(message); // what the sending MTA does on its next try
    t.equal(again.data?.code, 250, again.data?.raw.join(' | ') ?? '');
    const [m] = await inside.waitForMessages(1);
    t.equal(m!.messageId, '<while-down@client.test>');
    t.equal(inside.count(), 1, 'delivered once');
  });

  await t.test('clamd over TCP (antivirus.host/port) works the same', async (t) => {
    await gw.reload({ ...gwConfig, antivirus: { host: '127.0.0.1', port: clamd.port, timeoutMs: 5000 } });
    await gw.waitForLog((l) => l.event === 'listening' && l['generation'] === 2, { what: 'the reloaded receivers' });
    const r = await sendMx(messageWithAttachment({ filename: 'eicar.com', content: eicar }));
    t.equal(r.data?.code, 554, r.data?.raw.join(' | ') ?? '');
    t.match(r.data?.text ?? '', /Test\.EICAR/);
  });
});

t.test('a clamd that accepts and never answers: 451 within the deadline; onUnscanned: pass tags instead', async (t) => {
  const dir = await tempDir(t, 'hang');
  const socket = join(dir, 'hang.sock');
  const held: Socket[] = [];
  const fake = createServer((s) => { held.push(s); s.resume(); });
  await new Promise<void>((resolve) => fake.listen(socket, resolve));
  t.teardown(() => { for (const s of held) s.destroy(); fake.close(); });
  const inside = await startSink(t);
  const config = {
    domains: { 'corp.test': { route: { transport: 'smtp', hosts: [inside.hostPort], tls: 'none' } } },
    authentication: { enabled: false },
    antivirus: { enabled: true, socket, timeoutMs: 1500 },
  };
  const gw = await startGateway(t, { config });
  const c = await SmtpClient.connect(gw.ports['mx']!);
  await c.ehlo('client.test');
  const started = Date.now();
  const r = await c.send({ from: 'a@client.test', to: ['user@corp.test'], message: makeMessage({ messageId: '<hang@client.test>' }) });
  const took = Date.now() - started;
  await c.quit();
  t.equal(r.data?.code, 451, r.data?.raw.join(' | ') ?? '');
  t.match(r.data?.text ?? '', /^4\.7\.1 /);
  t.ok(took >= 1400 && took < 4000, `answered after ${took} ms (deadline 1500 ms)`);
  t.ok(held.length >= 1, 'the fake clamd was connected to');
  const line = await gw.waitForLog((l) => l.event === 'reject' && l['msgid'] === '<hang@client.test>');
  t.match(JSON.stringify(line['symbols']), /AV_UNSCANNED/);

  await gw.reload({ ...config, antivirus: { ...config.antivirus, onUnscanned: 'pass' } });
  await gw.waitForLog((l) => l.event === 'listening' && l['generation'] === 2, { what: 'the reloaded receivers' });
  const c2 = await SmtpClient.connect(gw.ports['mx']!);
  await c2.ehlo('client.test');
  const forged = makeMessage({ messageId: '<pass@client.test>', headers: { 'X-TuxHat-Virus-Scan': 'clean (forged)' } });
  const r2 = await c2.send({ from: 'a@client.test', to: ['user@corp.test'], message: forged });
  await c2.quit();
  t.equal(r2.data?.code, 250, r2.data?.raw.join(' | ') ?? '');
  const [m] = await inside.waitForMessages(1);
  t.match(m!.get('x-tuxhat-virus-scan') ?? '', /^unscanned \(clamd did not answer within 1500 ms\)/);
  t.notMatch(m!.header, /clean \(forged\)/, 'a sender cannot pre-tag its mail');
});

t.test('enabled: auto without a clamd socket: the log says antivirus is off, mail flows', async (t) => {
  const gw = await startGateway(t, { config: { antivirus: { socket: '/nonexistent/clamd.ctl' }, authentication: { enabled: false } } });
  const off = gw.logs().find((l) => /antivirus is OFF/.test(String(l.msg)));
  t.ok(off, 'a clear start-up line');
  t.match(String(off?.msg), /no clamd socket at \/nonexistent\/clamd\.ctl/);
  const c = await SmtpClient.connect(gw.ports['mx']!);
  await c.ehlo('client.test');
  const r = await c.send({ from: 'a@client.test', to: ['user@example.test'], message: makeMessage({ to: 'user@example.test', messageId: '<off@client.test>' }) });
  await c.quit();
  t.equal(r.data?.code, 250);
  const q = await gw.waitForLog((l) => l.event === 'queued' && l['msgid'] === '<off@client.test>');
  t.equal(q['av'], 'off');
});

t.test('a message larger than clamd StreamMaxLength (EPIPE / size limit) is not scanned → 451, never passed', async (t) => {
  const clamd = await startClamd(t, { eicar: ['ndb'], extraConfig: ['StreamMaxLength 1M'] });
  const inside = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [inside.hostPort], tls: 'none' } } },
      authentication: { enabled: false },
      antivirus: { socket: clamd.socket, timeoutMs: 5000 }, // maxBytes follows the 25 MiB listener limit: above clamd's 1M
    },
  });
  const big = messageWithAttachment({ filename: 'big.bin', content: Buffer.alloc(2 * 1024 * 1024, 'a'), messageId: '<big@client.test>' });
  const c = await SmtpClient.connect(gw.ports['mx']!);
  await c.ehlo('client.test');
  const r = await c.send({ from: 'a@client.test', to: ['user@corp.test'], message: big });
  await c.quit();
  t.equal(r.data?.code, 451, r.data?.raw.join(' | ') ?? '');
  t.match(r.data?.text ?? '', /^4\.7\.1 /);
  const line = await gw.waitForLog((l) => l.event === 'reject' && l['msgid'] === '<big@client.test>');
  t.equal(line['av'], 'unscanned');
  t.match(JSON.stringify(line['symbols']), /AV_UNSCANNED/);
  t.equal(inside.count(), 0);
});
