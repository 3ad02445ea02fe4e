/*
 * test/e2e/submission-dkim.test.ts — outbound DKIM signing (issue 3) through the real daemon:
 * an RSA and an Ed25519 key made with `tuxhat dkim keygen`, their TXT records served by dnsmasq
 * on loopback; mail submitted with STARTTLS + AUTH arrives at the remote MX (an smtp-sink) with
 * two DKIM-Signature headers, and mailauth verifying the received bytes against the same
 * dnsmasq (through gateway/src/dns) gives dkim=pass for both, and so does OpenDKIM's
 * opendkim-testmsg for each signature alone (harness/opendkim.ts). Mail from a domain without a key
 * goes out unsigned; a signing failure answers 451 4.3.0.
 */
import t from 'tap';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth';
import { configSchema } from '../../gateway/src/config/index.js';
import { createResolver } from '../../gateway/src/dns/index.js';
import { makeMessage, opendkimVerify, SmtpClient, startDns, startGateway, startSink, tempDir, tuxhat } from './harness/index.js';

const USER = 'alice@corp.test';
const PASSWORD = 'correct horse battery staple';

t.test('submission: signed with RSA and Ed25519, both verify at the receiver', async (t) => {
  const dir = await tempDir(t, 'dkim');
  const usersFile = join(dir, 'users.yaml');
  t.equal((await tuxhat(['user', 'add', USER, '--file', usersFile], { input: `${PASSWORD}\n` })).code, 0);
  const keysDir = join(dir, 'keys');
  const txt: Record<string, string> = {};
  for (const [selector, algorithm] of [['s2026rsa', 'rsa'], ['s2026ed', 'ed25519']] as const) {
    const r = await tuxhat(['dkim', 'keygen', 'corp.test', '--selector', selector, '--algorithm', algorithm, '--dir', keysDir]);
    t.equal(r.code, 0, `keygen ${algorithm}`, { output: r.stdout + r.stderr });
    const m = /^(\S+)\. IN TXT (.+)$/.exec(r.stdout.trim());
    t.ok(m, `a TXT record printed: ${r.stdout.trim().slice(0, 80)}`);
    txt[m![1]!] = [...m![2]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]).join('');
  }
  t.match(txt['s2026rsa._domainkey.corp.test'] ?? '', /^v=DKIM1; k=rsa; p=/);

  const remoteMx = await startSink(t, { hostname: 'mx.remote.test' });
  const dns = await startDns(t, { mx: { 'remote.test': 'mx.remote.test' }, a: { 'mx.remote.test': '127.0.0.1' }, txt });
  const gw = await startGateway(t, {
    readyListener: 'submission',
    config: {
      hostname: 'gw.tuxhat.test',
      usersFile,
      listeners: { submission: { kind: 'submission' } },
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: ['127.0.0.1:9'], tls: 'none' } } },
      dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 },
      outbound: { mode: 'mx', mxPort: remoteMx.port, tls: 'may' },
      dkim: { keysDir },
      queue: { scheduleMs: [1000] },
    },
  });
  const send = async (from: string, messageId: string, headers: Record<string, string> = {}, expectOk = true) => {
    const c = await SmtpClient.connect(gw.ports['submission']!);
    t.teardown(() => c.close());
    await c.ehlo('laptop.corp.test');
    await c.startTls();
    await c.ehlo('laptop.corp.test');
    t.equal((await c.auth(USER, PASSWORD)).code, 235);
    const res = await c.send({ from: USER, to: ['bob@remote.test'], message: makeMessage({ from, to: 'bob@remote.test', messageId, subject: 'signed', headers }) });
    await c.quit();
    if (expectOk) t.ok(res.ok, `accepted: ${res.data?.raw.join(' | ')}`);
    return res;
  };

  await send(USER, '<signed@corp.test>');
  const [m] = await remoteMx.waitForMessages(1, 15_000);
  t.equal(m!.messageId, '<signed@corp.test>');
  const sigs = m!.getAll('dkim-signature');
  t.equal(sigs.length, 2, 'two DKIM-Signature headers');
  t.ok(m!.message.startsWith('DKIM-Signature:'), 'the signatures are on top');
  t.match(sigs.join('\n'), /h=from:from:/, 'From oversigned');
  const resolver = createResolver(configSchema.parse({ dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 } }).dns);
  t.teardown(() => resolver.close());
  const verified = await dkimVerify(Buffer.from(m!.message, 'latin1'), { resolver: resolver.resolve as never });
  t.same(verified.results.map((r) => [r.signingDomain, r.selector, r.status.result]).sort(),
    [['corp.test', 's2026ed', 'pass'], ['corp.test', 's2026rsa', 'pass']], 'dkim=pass for both');
  t.ok(dns.queries().includes('TXT s2026ed._domainkey.corp.test'), 'the keys were fetched from dnsmasq');

  // Interop: OpenDKIM (opendkim-testmsg, Debian's 2.11) verifies each of our signatures alone.
  const headEnd = m!.message.indexOf('\r\n\r\n');
  const fields = m!.message.slice(0, headEnd).split(/\r\n(?![ \t])/);
  const isSig = (f: string) => /^DKIM-Signature:/i.test(f);
  // The received bytes with only one of the two signature fields, byte for byte.
  const only = (a: string) => [...fields.filter((f) => !isSig(f) || f.includes(`a=${a};`))].join('\r\n') + m!.message.slice(headEnd);
  for (const name of ['rsa-sha256', 'ed25519-sha256']) {
    t.equal(fields.filter((f) => isSig(f) && f.includes(`a=${name};`)).length, 1, `one ${name} signature`);
    const ok = await opendkimVerify(t, only(name), { txt });
    t.equal(ok.code, 0, `OpenDKIM verifies our ${name} signature: ${ok.stderr}`);
    const bad = await opendkimVerify(t, only(name).replace('Hello', 'Hellx'), { txt });
    t.not(bad.code, 0, `OpenDKIM refuses our ${name} signature on a changed body`);
    t.match(bad.stderr, /Bad signature|body hash/i);
  }

  await send('someone@nokey.test', '<unsigned@corp.test>');
  const all = await remoteMx.waitForMessages(2, 15_000);
  const unsigned = all.find((x) => x.messageId === '<unsigned@corp.test>');
  t.equal(unsigned?.getAll('dkim-signature').length, 0, 'no key for the From domain: unsigned');

  // A signing failure (here: a header block over the 1 MiB the signer reads) is 451 4.3.0, not unsigned mail.
  const pad: Record<string, string> = {};
  for (let i = 0; i < 1200; i++) pad[`X-Pad-${i}`] = 'x'.repeat(990);
  const failed = await send(USER, '<too-big-head@corp.test>', pad, false);
  t.notOk(failed.ok, 'refused');
  t.equal(failed.data?.code, 451, `451: ${failed.data?.raw.join(' | ')}`);
  t.match(failed.data?.text ?? '', /^4\.3\.0 /);
  await gw.waitForLog((l) => l.event === 'dkim' && /too large/.test(String(l['err'])), { what: 'the signing failure logged' });
});
