/*
 * Unit tests of content/checks/authentication.ts (issue 3): the real mailauth authenticate()
 * through an in-memory resolver with node:dns error codes, messages signed with mailauth's
 * dkimSign (RSA-2048) and sealed with sealMessage. Covers every SPF/DKIM/DMARC/ARC outcome we
 * map, pct, the overrides, the header edits and the skip for outbound mail.
 */
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { dkimSign, sealMessage } from 'mailauth';
import { parseConfig } from '../../../gateway/src/config/index.js';
import type { Message, Session } from '../../../gateway/src/core/index.js';
import { loadContentScores, scanContent, type ContentContext } from '../../../gateway/src/content/index.js';
import { authentication } from '../../../gateway/src/content/checks/authentication.js';
import type { ResolveFn } from '../../../gateway/src/dns/index.js';

const HOST = 'gw.tuxhat.test';
const scores = loadContentScores();

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const rsaTxt = `v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

type Zone = Record<string, string | 'TIMEOUT'>;
/** TXT-only map resolver: absent names are ENOTFOUND, 'TIMEOUT' is ETIMEOUT (temperror). */
function zoneResolver(zone: Zone): ResolveFn {
  return (async (name: string, rrtype = 'A') => {
    const v = zone[`${rrtype} ${name.toLowerCase()}`];
    const err = (code: string) => Object.assign(new Error(`${code} ${name}`), { code, hostname: name });
    if (v === 'TIMEOUT') throw err('ETIMEOUT');
    if (v === undefined) throw err('ENOTFOUND');
    return rrtype === 'TXT' ? [[v]] : [v];
  }) as ResolveFn;
}

const BASE_ZONE: Zone = {
  'TXT sender.test': 'v=spf1 ip4:192.0.2.10 -all',
  'TXT soft.test': 'v=spf1 ip4:192.0.2.10 ~all',
  'TXT neutral.test': 'v=spf1 ?all',
  'TXT broken.test': 'v=spf1 include:nowhere.invalid.test -all',
  'TXT slow.test': 'TIMEOUT',
  'TXT _dmarc.sender.test': 'v=DMARC1; p=reject',
  'TXT sel._domainkey.sender.test': rsaTxt,
  'TXT _dmarc.quar.test': 'v=DMARC1; p=quarantine',
  'TXT quar.test': 'v=spf1 ip4:192.0.2.10 -all',
  'TXT _dmarc.mon.test': 'v=DMARC1; p=none',
  'TXT mon.test': 'v=spf1 ip4:192.0.2.10 -all',
  'TXT _dmarc.half.test': 'v=DMARC1; p=reject; pct=50',
  'TXT half.test': 'v=spf1 ip4:192.0.2.10 -all',
  'TXT _dmarc.dslow.test': 'TIMEOUT',
  'TXT dslow.test': 'v=spf1 ip4:192.0.2.10 -all',
  'TXT lists.test': 'v=spf1 ip4:198.51.100.7 -all',
  'TXT arc._domainkey.sealer.test': rsaTxt,
};

function message(from: string, extra = ''): string {
  return `${extra}From: Alice <alice@${from}>\r\nTo: bob@corp.test\r\nSubject: hello\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@${from}>\r\n\r\nHello Bob.\r\n`;
}

async function signed(from: string, domain = from, extra = ''): Promise<string> {
  const msg = message(from, extra);
  const r = await dkimSign(msg, { signTime: new Date(), signatureData: [{ signingDomain: domain, selector: 'sel', privateKey: rsaPem, algorithm: 'rsa-sha256' }] } as never);
  t.same(r.errors, []);
  return r.signatures + msg;
}

interface Run {
  raw: string;
  ip?: string;
  helo?: string;
  sender: string;
  zone?: Zone;
  config?: Record<string, unknown>;
  direction?: 'inbound' | 'outbound';
}

function ctxOf(o: Run): ContentContext {
  const config = parseConfig({ hostname: HOST, ...(o.config ?? {}) });
  const session: Session = {
    id: 's1', listener: 'mx', kind: o.direction === 'outbound' ? 'submission' : 'mx', direction: o.direction ?? 'inbound',
    clientIp: o.ip ?? '192.0.2.10', clientPort: 1, ptr: null, helo: o.helo ?? 'mail.sender.test', tls: null, authUser: null, trustedBy: null,
  };
  const msg: Message = { qid: 'Q1', size: o.raw.length, headers: [], messageId: null, addedHeaders: [], openBody: () => Readable.from([Buffer.from(o.raw)]) };
  return { config, session, envelope: { mailFrom: o.sender, recipients: ['bob@corp.test'], size: o.raw.length, bodyType: '7bit', smtpUtf8: false }, message: msg, resolve: zoneResolver({ ...BASE_ZONE, ...(o.zone ?? {}) }), scores };
}

async function check(o: Run) {
  const r = await scanContent(ctxOf(o), [authentication]);
  return { ...r, names: r.hits.map((h) => h.name) };
}

t.test('SPF pass + aligned DKIM pass + DMARC pass: headers with our authserv-id, nothing to enforce', async (t) => {
  const r = await check({ raw: await signed('sender.test'), sender: 'bounce@sender.test' });
  t.same(r.names, ['SPF_ALLOW', 'DKIM_ALLOW', 'ARC_NA', 'DMARC_ALLOW']);
  t.equal(r.hits.find((h) => h.name === 'SPF_ALLOW')!.score, -0.2, 'score from rules/scores/authentication.yaml');
  t.equal(r.tempfail, false);
  t.same(r.authentication, { spf: 'pass', dkim: 'pass', dmarc: 'pass', arc: 'none', fromDomain: 'sender.test', dmarcPolicy: null });
  t.same(r.headerEdits[0], { op: 'remove', name: 'Authentication-Results', match: { authservId: HOST } }, 'forged A-R with our id removed first');
  const names = r.headerEdits.slice(1).map((e) => e.name);
  t.same(names, ['Received-SPF', 'Authentication-Results']);
  const ar = r.headerEdits[2]!;
  t.ok(ar.op === 'prepend' && ar.value.startsWith(`${HOST};`), 'A-R starts with our authserv-id');
  t.match(ar.op === 'prepend' ? ar.value : '', /dkim=pass header\.i=@sender\.test header\.s=sel header\.a=rsa-sha256/);
  t.match(ar.op === 'prepend' ? ar.value : '', /spf=pass .*smtp\.mailfrom=bounce@sender\.test/s);
  t.match(ar.op === 'prepend' ? ar.value : '', /dmarc=pass/);
  for (const e of r.headerEdits) if (e.op === 'prepend') t.notMatch(e.value, /(^|[^\r])\n/, `${e.name}: folded with CRLF only`);
});

t.test('SPF outcomes map one symbol each', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['a@sender.test', '203.0.113.5', 'SPF_FAIL'],
    ['a@soft.test', '203.0.113.5', 'SPF_SOFTFAIL'],
    ['a@neutral.test', '203.0.113.5', 'SPF_NEUTRAL'],
    ['a@nospf.test', '203.0.113.5', 'SPF_NONE'],
  ];
  for (const [sender, ip, sym] of cases) {
    const r = await check({ raw: message('other.test'), sender, ip });
    t.equal(r.names[0], sym, `${sender} from ${ip}`);
    t.equal(r.tempfail, false);
  }
  const perm = await check({ raw: message('other.test'), sender: 'a@broken.test', ip: '203.0.113.5' });
  t.equal(perm.names[0], 'SPF_PERMFAIL', 'include of a missing domain is permerror (RFC 7208 §5.2)');
});

t.test('SPF temperror → SPF_TEMPFAIL and AUTH_TEMPFAIL (451 4.7.0), never pass or reject', async (t) => {
  const r = await check({ raw: message('other.test'), sender: 'a@slow.test' });
  t.equal(r.names[0], 'SPF_TEMPFAIL');
  t.equal(r.tempfail, true);
  t.equal(r.tempfailReply, 'AUTH_TEMPFAIL');
});

t.test('DMARC temperror → AUTH_TEMPFAIL', async (t) => {
  const r = await check({ raw: message('dslow.test'), sender: 'a@dslow.test' });
  t.ok(r.names.includes('DMARC_TEMPFAIL'));
  t.equal(r.tempfailReply, 'AUTH_TEMPFAIL');
});

t.test('DMARC fail: p=reject / quarantine / none; forged DKIM is DKIM_REJECT', async (t) => {
  const forged = (await signed('sender.test')).replace('Hello Bob.', 'Hello Eve.');
  const rej = await check({ raw: forged, sender: 'x@elsewhere.test', ip: '203.0.113.5' });
  t.ok(rej.names.includes('DKIM_REJECT'), 'body changed after signing');
  t.ok(rej.names.includes('DMARC_REJECT_POLICY'));
  t.equal(rej.authentication!.dmarcPolicy, 'reject');
  t.equal(rej.authentication!.fromDomain, 'sender.test');
  const q = await check({ raw: message('quar.test'), sender: 'x@quar.test', ip: '203.0.113.5' });
  t.ok(q.names.includes('DMARC_QUARANTINE_POLICY'));
  t.equal(q.authentication!.dmarcPolicy, 'quarantine');
  const n = await check({ raw: message('mon.test'), sender: 'x@mon.test', ip: '203.0.113.5' });
  t.ok(n.names.includes('DMARC_NONE_POLICY'));
  t.equal(n.authentication!.dmarcPolicy, null, 'p=none only monitors');
  const na = await check({ raw: message('nodmarc.test'), sender: 'x@nodmarc.test' });
  t.ok(na.names.includes('DMARC_NA') && na.names.includes('DKIM_NONE'));
});

t.test('DKIM: a missing key is DKIM_PERMFAIL, a DNS timeout on the key DKIM_TEMPFAIL', async (t) => {
  const noKey = await check({ raw: await signed('nokey.test'), sender: 'a@sender.test' });
  t.match(noKey.hits.find((h) => h.name === 'DKIM_PERMFAIL')?.detail, /nokey\.test:s=sel/);
  const slow = await check({ raw: await signed('slowkey.test'), sender: 'a@sender.test', zone: { 'TXT sel._domainkey.slowkey.test': 'TIMEOUT' } });
  t.ok(slow.names.includes('DKIM_TEMPFAIL'));
  t.equal(slow.tempfail, false, 'only SPF and DMARC temperrors defer the message');
});

t.test('rsa-sha1 (RFC 8301) is not a pass: DKIM_WEAK_ALGORITHM, dkim=policy, and DMARC fails', async (t) => {
  const msg = message('sender.test');
  const sha1 = await dkimSign(msg, { signTime: new Date(), signatureData: [{ signingDomain: 'sender.test', selector: 'sel', privateKey: rsaPem, algorithm: 'rsa-sha1' }] } as never);
  t.match(sha1.signatures, /a=rsa-sha1/);
  // SPF fails (wrong IP), so only the sha1 signature could have made DMARC pass.
  const r = await check({ raw: sha1.signatures + msg, sender: 'x@sender.test', ip: '203.0.113.5' });
  t.ok(r.names.includes('DKIM_WEAK_ALGORITHM'), r.names.join(' '));
  t.notOk(r.names.includes('DKIM_ALLOW'));
  t.ok(r.names.includes('DMARC_REJECT_POLICY'), 'the sha1 pass no longer counts for DMARC');
  t.equal(r.authentication!.dmarcPolicy, 'reject');
  const ar = r.headerEdits.find((e) => e.op === 'prepend' && e.name === 'Authentication-Results');
  t.match(ar && ar.op === 'prepend' ? ar.value : '', /dkim=policy \(rsa-sha1 not accepted per RFC 8301\) policy\.dkim-rules=weak-algorithm header\.i=@sender\.test/);
  t.match(ar && ar.op === 'prepend' ? ar.value : '', /dmarc=fail/);
});

t.test("key record h= (RFC 6376 §3.6.1): a hash it does not list is dkim=permerror", async (t) => {
  const sha256Only = `${rsaTxt.replace('k=rsa;', 'h=sha256; k=rsa;')}`;
  const sha1Only = `${rsaTxt.replace('k=rsa;', 'h=sha1; k=rsa;')}`;
  const ok = await check({ raw: await signed('hkey.test'), sender: 'x@hkey.test', ip: '203.0.113.5', zone: { 'TXT sel._domainkey.hkey.test': sha256Only } });
  t.ok(ok.names.includes('DKIM_ALLOW'), 'h=sha256 with an rsa-sha256 signature passes');
  const bad = await check({ raw: await signed('hkey.test'), sender: 'x@hkey.test', ip: '203.0.113.5', zone: { 'TXT sel._domainkey.hkey.test': sha1Only } });
  t.ok(bad.names.includes('DKIM_PERMFAIL'), bad.names.join(' '));
  t.notOk(bad.names.includes('DKIM_ALLOW'));
  const ar = bad.headerEdits.find((e) => e.op === 'prepend' && e.name === 'Authentication-Results');
  t.match(ar && ar.op === 'prepend' ? ar.value : '', /dkim=permerror \(inappropriate hash algorithm\)/);
});

t.test('pct: outside the sample, reject becomes quarantine (RFC 7489 §6.6.4)', async (t) => {
  const { evaluate } = await import('../../../gateway/src/content/checks/authentication.js');
  const { authenticate } = await import('mailauth');
  const ctx = ctxOf({ raw: message('half.test'), sender: 'x@half.test', ip: '203.0.113.5' });
  const res = await authenticate(message('half.test'), { ip: '203.0.113.5', helo: 'h.test', sender: 'x@half.test', mta: HOST, resolver: ctx.resolve as never, disableBimi: true });
  const inSample = evaluate(res, ctx, () => 0.1);
  t.equal(inSample.authentication!.dmarcPolicy, 'reject');
  const outside = evaluate(res, ctx, () => 0.9);
  t.equal(outside.authentication!.dmarcPolicy, 'quarantine');
  t.ok(outside.hits.some((h) => h.name === 'DMARC_PCT_SKIPPED'));
});

t.test('trusted forwarders: by client CIDR, or by a verified (SPF or DKIM pass) domain, never by HELO', async (t) => {
  const raw = message('sender.test');
  const byIp = await check({ raw, sender: 'list-bounce@lists.test', ip: '198.51.100.7', config: { authentication: { overrides: { trustedForwarders: ['198.51.100.0/24'] } } } });
  t.equal(byIp.authentication!.dmarcPolicy, null);
  t.match(byIp.hits.find((h) => h.name === 'DMARC_POLICY_OVERRIDDEN')?.detail, /trusted forwarder 198\.51\.100\.7/);
  const byDomain = await check({ raw, sender: 'list-bounce@lists.test', ip: '198.51.100.7', config: { authentication: { overrides: { trustedForwarders: ['lists.test'] } } } });
  t.equal(byDomain.authentication!.dmarcPolicy, null, 'SPF pass for lists.test');
  const byHelo = await check({ raw, sender: 'x@nospf.test', helo: 'lists.test', ip: '203.0.113.9', config: { authentication: { overrides: { trustedForwarders: ['lists.test'] } } } });
  t.equal(byHelo.authentication!.dmarcPolicy, 'reject', 'a HELO name proves nothing');
});

t.test('trusted ARC sealer: a passing chain from it suspends DMARC enforcement', async (t) => {
  // sender.test signs, the list (sealer.test) changes the body and seals, then forwards.
  const original = await signed('sender.test');
  const modified = original.replace('Hello Bob.', 'Hello Bob.\r\n-- \r\nlist footer');
  const seal = await sealMessage(Buffer.from(modified), {
    signingDomain: 'sealer.test', selector: 'arc', privateKey: rsaPem,
    authResults: 'lists.test; dkim=pass header.d=sender.test; spf=pass smtp.mailfrom=sender.test; dmarc=pass', cv: 'none', signTime: new Date(),
  } as never);
  const raw = seal.toString() + modified;
  const untrusted = await check({ raw, sender: 'bounce@lists.test', ip: '198.51.100.7' });
  t.ok(untrusted.names.includes('ARC_ALLOW'), 'chain verifies');
  t.ok(untrusted.names.includes('DKIM_REJECT'), 'the original signature broke');
  t.equal(untrusted.authentication!.dmarcPolicy, 'reject', 'sealer not trusted: enforced');
  const trusted = await check({ raw, sender: 'bounce@lists.test', ip: '198.51.100.7', config: { authentication: { overrides: { trustedArcSealers: ['sealer.test'] } } } });
  t.equal(trusted.authentication!.dmarcPolicy, null);
  t.match(trusted.hits.find((h) => h.name === 'DMARC_POLICY_OVERRIDDEN')?.detail, /trusted ARC sealer sealer\.test/);
  const forgedChain = raw.replace('list footer', 'changed after sealing');
  const broken = await check({ raw: forgedChain, sender: 'bounce@lists.test', ip: '198.51.100.7', config: { authentication: { overrides: { trustedArcSealers: ['sealer.test'] } } } });
  t.ok(broken.names.includes('ARC_REJECT'));
  t.equal(broken.authentication!.dmarcPolicy, 'reject', 'a broken chain earns no trust');
});

t.test('outbound mail and authentication.enabled=false are not verified', async (t) => {
  const out = await check({ raw: message('sender.test'), sender: 'a@sender.test', direction: 'outbound' });
  t.same(out.hits, []);
  t.same(out.headerEdits, []);
  t.equal(out.authentication, null);
  const off = await check({ raw: message('sender.test'), sender: 'a@sender.test', config: { authentication: { enabled: false } } });
  t.same(off.hits, []);
});

t.test('a check that misses its deadline answers AUTHENTICATION_TEMPFAIL with 451 4.7.0', async (t) => {
  const ctx = ctxOf({ raw: message('sender.test'), sender: 'a@sender.test' });
  const hanging = { ...ctx, resolve: (() => new Promise(() => undefined)) as unknown as ResolveFn };
  const r = await scanContent(hanging, [{ ...authentication, timeoutMs: 50 }]);
  t.same(r.hits.map((h) => h.name), ['AUTHENTICATION_TEMPFAIL']);
  t.equal(r.tempfailReply, 'AUTH_TEMPFAIL');
  t.ok(scores.authentication.names().includes('AUTHENTICATION_TEMPFAIL'), 'the timeout symbol is scored too');
});
