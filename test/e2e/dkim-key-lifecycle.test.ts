/*
 * test/e2e/dkim-key-lifecycle.test.ts — DKIM key lifecycle (issue 3) through the real daemon
 * and the real `tuxhat` CLI, with dnsmasq serving the records on loopback:
 *   - `tuxhat dkim check DOMAIN`: per selector "record found / matches our key", SPF and DMARC
 *     records present; `all green` and exit 0 only when everything is;
 *   - the daemon checks each key's record before signing: a key whose record holds another key
 *     does not sign (logged as event dkim-key, state mismatch), the other key of the domain still
 *     does; a domain whose only key has no record answers 451 4.3.0 (dkim.dnsCheck.onBadRecord
 *     refuse, unsignedOnError false) instead of sending a signature every receiver fails;
 *   - rotation: `tuxhat dkim rotate` stages a next key (checked, never signing), `--promote` is
 *     refused until its record is published, then moves it to active and the old key to retired/.
 */
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth';
import { configSchema } from '../../gateway/src/config/index.js';
import { createResolver } from '../../gateway/src/dns/index.js';
import { makeMessage, SmtpClient, startDns, startGateway, startSink, tempDir, tuxhat, type DnsRecords } from './harness/index.js';

const USER = 'alice@corp.test';
const PASSWORD = 'correct horse battery staple';

const txtOf = (stdout: string) => {
  const m = /^(\S+)\. IN TXT (.+)$/m.exec(stdout.trim());
  if (!m) throw new Error(`no TXT record in: ${stdout}`);
  return [m[1]!, [...m[2]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]).join('')] as const;
};

t.test('dkim check, the DNS check before signing, and rotation', async (t) => {
  const dir = await tempDir(t, 'dkimlc');
  const usersFile = join(dir, 'users.yaml');
  t.equal((await tuxhat(['user', 'add', USER, '--file', usersFile], { input: `${PASSWORD}\n` })).code, 0);
  const keysDir = join(dir, 'keys');
  const gen = async (domain: string, selector: string, algorithm: string) => {
    const r = await tuxhat(['dkim', 'keygen', domain, '--selector', selector, '--algorithm', algorithm, '--dir', keysDir]);
    t.equal(r.code, 0, r.stderr);
    return txtOf(r.stdout);
  };
  const [liveName, liveTxt] = await gen('corp.test', 'live', 'rsa');
  const [edName] = await gen('corp.test', 'edkey', 'ed25519');
  await gen('other.test', 'o1', 'rsa');
  // edkey's record holds some other Ed25519 key: a mismatch.
  const stranger = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(12).toString('base64');
  const records: DnsRecords = {
    mx: { 'remote.test': 'mx.remote.test' }, a: { 'mx.remote.test': '127.0.0.1' },
    txt: {
      [liveName]: liveTxt, [edName]: `v=DKIM1; k=ed25519; p=${stranger}`,
      'corp.test': 'v=spf1 ip4:127.0.0.1 -all', '_dmarc.corp.test': 'v=DMARC1; p=reject',
    },
  };
  const dns = await startDns(t, records);
  const cliConfig = join(dir, 'cli.yaml');
  writeFileSync(cliConfig, JSON.stringify({ dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 } }));
  const check = (domain: string) => tuxhat(['dkim', 'check', domain, '--config', cliConfig, '--dir', keysDir]);

  const c1 = await check('corp.test');
  t.equal(c1.code, 1, 'a problem: exit 1');
  t.match(c1.stdout, /^corp\.test\n/);
  t.match(c1.stdout, /  ok    DKIM live \(rsa-sha256, active\): live\._domainkey\.corp\.test publishes our key\n/);
  t.match(c1.stdout, /  FAIL  DKIM edkey \(ed25519-sha256, active\): mismatch: the public key at edkey\._domainkey\.corp\.test is not the one of our private key\n/);
  t.match(c1.stdout, /  ok    SPF: v=spf1 ip4:127\.0\.0\.1 -all\n/);
  t.match(c1.stdout, /  ok    DMARC: v=DMARC1; p=reject\n/);
  t.match(c1.stdout, /1 problem\n$/);
  const c2 = await check('other.test');
  t.equal(c2.code, 1);
  t.match(c2.stdout, /FAIL  DKIM o1 \(rsa-sha256, active\): missing: no TXT record at o1\._domainkey\.other\.test/);
  t.match(c2.stdout, /FAIL  SPF: no SPF record at other\.test/);
  t.match(c2.stdout, /3 problems\n$/);

  const remoteMx = await startSink(t, { hostname: 'mx.remote.test' });
  const gw = await startGateway(t, {
    readyListener: 'submission',
    config: {
      hostname: 'gw.tuxhat.test', usersFile,
      listeners: { submission: { kind: 'submission' } },
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: ['127.0.0.1:9'], tls: 'none' } } },
      dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 },
      outbound: { mode: 'mx', mxPort: remoteMx.port, tls: 'may' },
      dkim: { keysDir },
      queue: { scheduleMs: [1000] },
    },
  });
  const send = async (from: string, messageId: string) => {
    const c = await SmtpClient.connect(gw.ports['submission']!);
    t.teardown(() => c.close());
    await c.ehlo('laptop.corp.test');
    await c.startTls();
    await c.ehlo('laptop.corp.test');
    t.equal((await c.auth(USER, PASSWORD)).code, 235);
    const res = await c.send({ from: USER, to: ['bob@remote.test'], message: makeMessage({ from, to: 'bob@remote.test', messageId, subject: 'k' }) });
    await c.quit();
    return res;
  };

  const logged = await gw.waitForLog((l) => l.event === 'dkim-key' && l['selector'] === 'edkey', { what: 'the start-up check of edkey' });
  t.equal(logged['state'], 'mismatch');
  t.equal(logged['level'], 'error', 'logged as an error');

  t.ok((await send(USER, '<lc-1@corp.test>')).ok, 'accepted');
  const [m] = await remoteMx.waitForMessages(1, 15_000);
  const sigs = m!.getAll('dkim-signature');
  t.equal(sigs.length, 1, 'only the key whose record matches signs');
  t.match(sigs[0], /s=live;/);
  const resolver = createResolver(configSchema.parse({ dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 } }).dns);
  t.teardown(() => resolver.close());
  const v = await dkimVerify(Buffer.from(m!.message, 'latin1'), { resolver: resolver.resolve as never });
  t.same(v.results.map((r) => r.status.result), ['pass']);

  const refused = await send('x@other.test', '<lc-2@other.test>');
  t.notOk(refused.ok);
  t.equal(refused.data?.code, 451, `451: ${refused.data?.raw.join(' | ')}`);
  t.match(refused.data?.text ?? '', /^4\.3\.0 /);
  await gw.waitForLog((l) => l.event === 'dkim' && /no DKIM key of other\.test has a matching DNS record: o1: missing/.test(String(l['err'])), { what: 'the refusal logged' });

  // Rotation: stage an Ed25519 key to replace edkey.
  const staged = await tuxhat(['dkim', 'rotate', 'corp.test', '--selector', 'ed2', '--algorithm', 'ed25519', '--config', cliConfig, '--dir', keysDir]);
  t.equal(staged.code, 0, staged.stderr);
  t.ok(existsSync(join(keysDir, 'corp.test', 'next', 'ed2.key')));
  const [ed2Name, ed2Txt] = txtOf(staged.stdout);
  const c3 = await check('corp.test');
  t.match(c3.stdout, /FAIL  DKIM ed2 \(ed25519-sha256, next\): missing: no TXT record at ed2\._domainkey\.corp\.test/);
  const early = await tuxhat(['dkim', 'rotate', 'corp.test', '--promote', '--config', cliConfig, '--dir', keysDir]);
  t.not(early.code, 0, 'promotion refused before the record is published');
  t.match(early.stderr, /not promoted: ed2: missing/);
  t.ok(existsSync(join(keysDir, 'corp.test', 'edkey.key')), 'nothing moved');

  await dns.setRecords({ ...records, txt: { ...records.txt, [ed2Name]: ed2Txt } });
  const promoted = await tuxhat(['dkim', 'rotate', 'corp.test', '--promote', '--config', cliConfig, '--dir', keysDir]);
  t.equal(promoted.code, 0, promoted.stderr);
  t.match(promoted.stdout, /active: ed2 \(ed25519-sha256\)\nretired: edkey/);
  t.ok(existsSync(join(keysDir, 'corp.test', 'ed2.key')) && existsSync(join(keysDir, 'corp.test', 'retired', 'edkey.key')));
  const c4 = await check('corp.test');
  t.equal(c4.code, 0, c4.stdout);
  t.match(c4.stdout, /ok    DKIM ed2 \(ed25519-sha256, active\)/);
  t.match(c4.stdout, /all green\n$/);
  t.notMatch(c4.stdout, /edkey/, 'the retired key is no longer checked');
});
