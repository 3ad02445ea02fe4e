/*
 * test/e2e/rules-disclaimer-dkim.test.ts — body transforms before DKIM signing, through the
 * real daemon: a multipart/alternative message submitted with AUTH gets the organisation's
 * disclaimer (config rules.disclaimers) in both its text and HTML part (parsed with
 * postal-mime at the receiver), and its DKIM signature — made after the rewrite — verifies
 * with mailauth against dnsmasq. A PGP/MIME signed message passes unchanged. Broken rule files:
 * `tuxhat run` refuses to start (exit 78) naming FILE:LINE: field; a reload with a broken rule
 * file is refused and the running rules stay; `tuxhat rules check` names the problems.
 */
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth';
import PostalMime from 'postal-mime';
import { stringify as toYaml } from 'yaml';
import { configSchema } from '../../gateway/src/config/index.js';
import { createResolver } from '../../gateway/src/dns/index.js';
import { admin, makeMessage, SmtpClient, startDns, startGateway, startSink, tempDir, tuxhat, waitFor } from './harness/index.js';
import { buildMessage } from './fixtures/mime.js';

const USER = 'alice@corp.test';
const PASSWORD = 'correct horse battery staple';

t.test('outbound disclaimer in both parts of multipart/alternative, DKIM still verifies', async (t) => {
  const dir = await tempDir(t, 'disclaimer');
  const usersFile = join(dir, 'users.yaml');
  t.equal((await tuxhat(['user', 'add', USER, '--file', usersFile], { input: `${PASSWORD}\n` })).code, 0);
  const keysDir = join(dir, 'keys');
  const r = await tuxhat(['dkim', 'keygen', 'corp.test', '--selector', 'sel', '--algorithm', 'rsa', '--dir', keysDir]);
  t.equal(r.code, 0, r.stderr);
  const m = /^(\S+)\. IN TXT (.+)$/.exec(r.stdout.trim())!;
  const txt = { [m[1]!]: [...m[2]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]).join('') };
  const remoteMx = await startSink(t, { hostname: 'mx.remote.test' });
  const dns = await startDns(t, { mx: { 'remote.test': 'mx.remote.test' }, a: { 'mx.remote.test': '127.0.0.1' }, txt });
  const gw = await startGateway(t, {
    readyListener: 'submission',
    config: {
      usersFile,
      listeners: { submission: { kind: 'submission' } },
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: ['127.0.0.1:9'], tls: 'none' } } },
      dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 },
      outbound: { mode: 'mx', mxPort: remoteMx.port, tls: 'may' },
      dkim: { keysDir },
      rules: { disclaimers: { 'corp.test': { text: 'Corp AG · Registered in Testland · Confidential.', html: '<p class="disclaimer">Corp AG &middot; Confidential.</p>' } } },
      queue: { scheduleMs: [1000] },
    },
  });
  const send = async (message: Buffer | string) => {
    const c = await SmtpClient.connect(gw.ports['submission']!);
    await c.ehlo('laptop.corp.test');
    await c.startTls();
    await c.ehlo('laptop.corp.test');
    t.equal((await c.auth(USER, PASSWORD)).code, 235);
    const res = await c.send({ from: USER, to: ['bob@remote.test'], message });
    await c.quit();
    t.ok(res.ok, `accepted: ${res.data?.raw.join(' | ')}`);
  };
  const original = await buildMessage({ from: USER, to: 'bob@remote.test', subject: 'Quarterly numbers', text: 'Hi Bob,\nthe numbers are attached.\n', html: '<html><body><p>Hi Bob,</p><p>the numbers are attached.</p></body></html>', headers: { 'Message-ID': '<alt@corp.test>' } });
  await send(original);
  const [got] = await remoteMx.waitForMessages(1, 15_000);
  const mail = await PostalMime.parse(got!.message);
  t.match(mail.text, /the numbers are attached\.\s*\n-- \s*\nCorp AG · Registered in Testland · Confidential\./, 'plain part has the disclaimer');
  t.match(mail.html, /<p>the numbers are attached\.<\/p><p class="disclaimer">Corp AG &middot; Confidential\.<\/p>\s*<\/body><\/html>/, 'HTML part has it before </body>');
  t.equal(mail.attachments.length, 0);
  t.match(got!.get('content-type') ?? '', /^multipart\/alternative; boundary=/);
  const resolver = createResolver(configSchema.parse({ dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 } }).dns);
  t.teardown(() => resolver.close());
  const verified = await dkimVerify(Buffer.from(got!.message, 'latin1'), { resolver: resolver.resolve as never });
  t.same(verified.results.map((x) => [x.signingDomain, x.status.result]), [['corp.test', 'pass']], 'dkim=pass over the rewritten body');
  const q = await gw.waitForLog((l) => l.event === 'queued' && l.msgid === '<alt@corp.test>');
  t.same(q.transforms, ['disclaimer (plain) by disclaimer:corp.test', 'disclaimer (html) by disclaimer:corp.test']);

  // Signed mail is left intact (and still DKIM-signed by us).
  const signedBody = 'Content-Type: multipart/signed; protocol="application/pgp-signature"; micalg=pgp-sha256; boundary="s1"\r\n\r\n--s1\r\nContent-Type: text/plain\r\n\r\nsigned words\r\n--s1\r\nContent-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n--s1--\r\n';
  const signed = `From: ${USER}\r\nTo: bob@remote.test\r\nSubject: signed\r\nMessage-ID: <pgp@corp.test>\r\nDate: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\n${signedBody}`;
  await send(signed);
  const all = await remoteMx.waitForMessages(2, 15_000);
  const pgp = all.find((x) => x.messageId === '<pgp@corp.test>')!;
  t.equal(pgp.body.replace(/\r\n/g, '\n'), signedBody.slice(signedBody.indexOf('\r\n\r\n') + 4).replace(/\r\n/g, '\n'), 'the signed body is unchanged');
  t.notMatch(pgp.message, /Corp AG/, 'no disclaimer in signed mail');
  const pq = await gw.waitForLog((l) => l.event === 'queued' && l.msgid === '<pgp@corp.test>');
  t.equal(pq.transformsSkipped, 'signed or encrypted message left intact');
});

t.test('broken rule files: start refused, reload refused with the running rules kept, rules check explains', async (t) => {
  const dir = await tempDir(t, 'badrules');
  const site = join(dir, 'rules');
  mkdirSync(site);
  const good = 'rules:\n  - name: mark\n    actions:\n      - addHeader: { name: X-Marked, value: v1 }\n';
  const bad = 'rules:\n  - name: mark\n    what:\n      - subject: "(["\n    actions:\n      - addheader: { name: X-Marked, value: v2 }\n';
  writeFileSync(join(site, 'site.yaml'), bad);
  const cfg = join(dir, 'gateway.yaml');
  writeFileSync(cfg, toYaml({ rules: { dirs: [site] }, paths: { state: join(dir, 'state'), spool: join(dir, 'spool'), run: join(dir, 'run') }, admin: { socket: join(dir, 'run', 'a.sock') }, listeners: { mx: { kind: 'mx', port: 2, tls: 'none' } } }));
  const run = await tuxhat(['run', '--config', cfg], { timeoutMs: 20_000 });
  t.equal(run.code, 78, 'exit 78 (EX_CONFIG)');
  const file = join(site, 'site.yaml');
  t.match(run.stderr, `${file}:4: rules[0].what[0].subject: not a valid regular expression`);
  t.match(run.stderr, `${file}:6: rules[0].actions[0].addheader: unknown action addheader; expected one of:`);
  const check = await tuxhat(['rules', 'check', '--config', cfg]);
  t.equal(check.code, 1);
  t.match(check.stderr, `${file}:4: rules[0].what[0].subject`);

  writeFileSync(join(site, 'site.yaml'), good);
  t.match((await tuxhat(['rules', 'check', '--config', cfg])).stdout, /^1 rules enabled, 0 disabled, from 1 files: ok/);
  const sink = await startSink(t);
  const gw = await startGateway(t, { config: { authentication: { enabled: false }, rules: { dirs: [site] }, domains: { 'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } } } } });
  writeFileSync(join(site, 'site.yaml'), bad);
  const reload = await admin(gw, ['reload']);
  t.not(reload.code, 0, 'reload refused');
  t.match(reload.stderr, `${file}:4: rules[0].what[0].subject`);
  await waitFor(() => gw.logs().some((l) => l.event === 'reload' && l.ok === false) || undefined, { what: 'the refused reload logged' });
  const c = await SmtpClient.connect(gw.ports.mx!);
  await c.ehlo('client.test');
  t.ok((await c.send({ from: 'a@client.test', to: ['bob@corp.test'], message: makeMessage({ to: 'bob@corp.test' }) })).ok);
  await c.quit();
  const [m] = await sink.waitForMessages(1, 15_000);
  t.equal(m!.get('x-marked'), 'v1', 'the running rules stayed');

  // Fixed: the reload takes the new rules (hot reload, no restart).
  writeFileSync(join(site, 'site.yaml'), good.replace('v1', 'v2'));
  const ok = await admin(gw, ['reload']);
  t.equal(ok.code, 0, ok.stderr);
  await waitFor(async () => {
    const c2 = await SmtpClient.connect(gw.ports.mx!);
    await c2.ehlo('client.test');
    await c2.send({ from: 'a@client.test', to: ['bob@corp.test'], message: makeMessage({ to: 'bob@corp.test' }) });
    await c2.quit();
    const all = await sink.waitForMessages(1, 15_000);
    return all.some((x) => x.get('x-marked') === 'v2') || undefined;
  }, { timeoutMs: 30_000, what: 'a message marked by the reloaded rules' });
  t.pass('the reloaded rules apply');
});
