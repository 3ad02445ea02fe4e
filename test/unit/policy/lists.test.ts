/*
 * Unit tests of the issue-5 policy pieces that need no network: access-list matching and level
 * precedence, DNSBL spec parsing and weight sums (fake resolver), HELO judgement, the smuggling
 * detector across chunk borders, the callout cache's TTLs, and the policy score file.
 */
import t from 'tap';
import type { Session } from '../../../gateway/src/core/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../../gateway/src/config/index.js';
import { defaultScoresDir } from '../../../gateway/src/content/index.js';
import type { ResolveFn } from '../../../gateway/src/dns/index.js';
import { accessOf, addressKey, clientKey, compileAccess, compileAddress as compileAddressKey, compileClient as compileClientKey, evaluateAccess } from '../../../gateway/src/policy/access.js';
import { CalloutCache } from '../../../gateway/src/policy/callout.js';
import { heloIsOurs, heloProblem } from '../../../gateway/src/policy/checks/helo.js';
import { domainMailability } from '../../../gateway/src/policy/checks/sender-verify.js';
import { accessFileSchema } from '../../../gateway/src/policy/config.js';
import { dnsblOf, dnsblPrefix, lookupDnsbl, parseDnsblSpec, specMatches } from '../../../gateway/src/policy/dnsbl.js';
import { POLICY_SYMBOLS, policyScores } from '../../../gateway/src/policy/scores.js';
import { BareNewlineDetector } from '../../../gateway/src/policy/smuggling.js';

const compileClient = (m: string) => {
  const c = compileClientKey(m);
  return { needsPtr: c.needsPtr, test: (ip: string, ptr: string | null) => c.test(clientKey(ip, ptr)) };
};
const compileAddress = (m: string) => {
  const f = compileAddressKey(m);
  return (a: string) => f(addressKey(a));
};
const err = (code: string) => Object.assign(new Error(code), { code });

t.test('every policy symbol has a score and every score names a symbol', async (t) => {
  const text = readFileSync(join(defaultScoresDir(), 'policy.yaml'), 'utf8');
  t.same([...text.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]).sort(), [...POLICY_SYMBOLS].sort());
  t.equal(policyScores().score('DNSBL_SUM'), 1);
});

t.test('client and address patterns', async (t) => {
  t.ok(compileClient('10.0.0.0/8').test('10.1.2.3', null));
  t.notOk(compileClient('10.0.0.0/8').test('11.1.2.3', null));
  t.ok(compileClient('2001:db8::/32').test('2001:db8::1', null));
  t.ok(compileClient('*.dyn.example.net').test('1.2.3.4', 'host-1.dyn.example.net'));
  t.notOk(compileClient('*.dyn.example.net').test('1.2.3.4', 'dyn.example.net.evil'));
  t.notOk(compileClient('*.dyn.example.net').test('1.2.3.4', null), 'no verified PTR, no match');
  t.ok(compileClient('/^host-\\d+\\./').test('1.2.3.4', 'host-12.isp.test'));
  t.equal(compileClient('mail.example.net').needsPtr, true);
  t.ok(compileAddress('Alice@Example.com')('alice@example.COM'));
  t.ok(compileAddress('example.com')('bob@example.com'));
  t.notOk(compileAddress('example.com')('bob@sub.example.com'));
  t.ok(compileAddress('*.example.com')('bob@sub.example.com'));
  t.ok(compileAddress('.example.com')('bob@a.b.example.com'));
  t.notOk(compileAddress('*.example.com')('bob@example.com'));
  t.ok(compileAddress('bounce@')('bounce@anything.test'));
  t.ok(compileAddress('/^[0-9a-f]{16}@/i')('0123456789ABCDEF@x.test'));
});

t.test('levels: user beats domain beats global; deny beats allow within a level; scores add', async (t) => {
  const file = accessFileSchema.parse({
    global: {
      clients: [{ match: '192.0.2.0/24', action: 'deny', reply: 'go away' }],
      senders: [{ match: 'spam.test', action: 'deny' }, { match: 'meh.test', action: 'score', score: 2.5 }],
    },
    domains: { 'corp.test': { senders: [{ match: 'spam.test', action: 'allow' }, { match: 'meh.test', action: 'score' }] } },
    users: { 'boss@corp.test': { clients: [{ match: '192.0.2.7', action: 'allow' }], senders: [{ match: '*.partner.test', action: 'deny' }] } },
  });
  const a = compileAccess([file]);
  const ev = (ip: string, sender: string, recipient: string) => evaluateAccess(a, { ip, ptr: null, sender, recipient });
  t.equal(ev('192.0.2.9', 'x@ok.test', 'a@corp.test').action, 'deny', 'global client deny');
  t.equal(ev('192.0.2.9', 'x@ok.test', 'a@corp.test').reply, 'go away');
  t.equal(ev('192.0.2.7', 'x@ok.test', 'boss@corp.test').action, 'allow', 'user allow beats global deny');
  t.equal(ev('198.51.100.1', 'x@spam.test', 'a@corp.test').action, 'allow', 'domain allow beats global deny');
  t.equal(ev('198.51.100.1', 'x@spam.test', 'a@other.test').action, 'deny', 'other domain: global deny');
  t.equal(ev('192.0.2.7', 'x@mail.partner.test', 'boss@corp.test').action, 'deny', 'within a level deny beats allow');
  const s = ev('198.51.100.1', 'x@meh.test', 'a@corp.test');
  t.equal(s.action, 'none');
  t.same(s.hits.map((h) => h.score), [1, 2.5], 'domain score (default) + global score (own)');
  t.equal(ev('198.51.100.1', 'x@ok.test', 'a@corp.test').hits.length, 0);
  t.equal(compileAccess([accessFileSchema.parse({})]).empty, true);
});

t.test('DNSBL specs: postscreen syntax, filters and weights', async (t) => {
  const s = parseDnsblSpec('bl.test=127.0.0.[2..4;10]*3');
  t.equal(s.zone, 'bl.test');
  t.equal(s.weight, 3);
  t.ok(specMatches(s, '127.0.0.2'));
  t.ok(specMatches(s, '127.0.0.10'));
  t.notOk(specMatches(s, '127.0.0.5'));
  t.equal(parseDnsblSpec('wl.test*-2').weight, -2);
  t.ok(specMatches(parseDnsblSpec('any.test'), '127.0.0.99'));
  t.notOk(specMatches(parseDnsblSpec('any.test'), '10.0.0.1'), 'no filter: 127/8 only');
  t.equal(dnsblPrefix('192.0.2.10'), '10.2.0.192');
  t.match(dnsblPrefix('2001:db8::1'), /^1\.0\.0\.0\..*\.8\.b\.d\.0\.1\.0\.0\.2$/);
  const zone: Record<string, string[] | Error> = {
    '10.2.0.192.bl.test': ['127.0.0.2', '127.0.0.11'],
    '10.2.0.192.wl.test': ['127.0.10.1'],
    '10.2.0.192.slow.test': err('ETIMEOUT'),
  };
  const resolve = (async (name: string) => {
    const r = zone[name];
    if (r instanceof Error) throw r;
    if (!r) throw err('ENOTFOUND');
    return r;
  }) as unknown as ResolveFn;
  const r = await lookupDnsbl('192.0.2.10', ['bl.test=127.0.0.[2..10]*3', 'bl.test=127.0.0.11*0.5', 'wl.test=127.0.[0..255].1*-2', 'slow.test*10', 'none.test*7'].map(parseDnsblSpec), resolve, 1000);
  t.equal(r.sum, 1.5, '3 + 0.5 - 2; failed and unlisted zones count 0');
  t.equal(r.listed.length, 3);
  t.same(r.failed, ['slow.test: ETIMEOUT']);
});

t.test('DNSBL results are kept per client address for a while; a result with a failed zone is not', async (t) => {
  let queries = 0;
  let failing = true;
  const resolve = (async (name: string) => {
    queries++;
    if (name.endsWith('.flaky.test') && failing) throw Object.assign(new Error('timeout'), { code: 'ETIMEOUT' });
    if (name === '5.2.0.192.bl.test') return ['127.0.0.2'];
    throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
  }) as unknown as ResolveFn;
  const session = (ip: string) => ({ id: `s${Math.random()}`, listener: 'mx', kind: 'mx', direction: 'inbound', clientIp: ip, clientPort: 1, ptr: null, helo: null, tls: null, authUser: null, trustedBy: null }) as unknown as Session;
  const cfg = { zones: ['bl.test*3'], timeoutMs: 500 };
  t.equal((await dnsblOf(session('192.0.2.5'), cfg, resolve)).sum, 3);
  t.equal(queries, 1);
  t.equal((await dnsblOf(session('192.0.2.5'), cfg, resolve)).sum, 3, 'the next session of that client…');
  t.equal(queries, 1, '…asks nothing');
  await dnsblOf(session('192.0.2.6'), cfg, resolve);
  t.equal(queries, 2, 'another client is looked up');
  const flaky = { zones: ['bl.test*3', 'flaky.test*1'], timeoutMs: 500 };
  t.same((await dnsblOf(session('192.0.2.7'), flaky, resolve)).failed, ['flaky.test: ETIMEOUT']);
  await new Promise((r) => setImmediate(r));
  failing = false;
  const before = queries;
  t.same((await dnsblOf(session('192.0.2.7'), flaky, resolve)).failed, [], 'a failed result is asked again');
  t.equal(queries, before + 2);
});

t.test('HELO judgement', async (t) => {
  t.equal(heloProblem('mail.example.net'), null);
  t.equal(heloProblem('[192.0.2.1]'), null);
  t.equal(heloProblem('[IPv6:2001:db8::1]'), null);
  t.equal(heloProblem('localhost'), 'not a fully-qualified hostname');
  t.equal(heloProblem('192.0.2.1'), 'bare IP address');
  t.equal(heloProblem('[999.1.1.1]'), 'bad address literal');
  t.equal(heloProblem('bad_host!.test'), 'not a fully-qualified hostname');
  t.equal(heloProblem(''), 'empty');
  const ours = { hostname: 'mx.gw.test', domains: ['corp.test'], addresses: ['127.0.0.1'] };
  t.ok(heloIsOurs('MX.GW.TEST', ours));
  t.ok(heloIsOurs('corp.test', ours));
  t.ok(heloIsOurs('[127.0.0.1]', ours));
  t.notOk(heloIsOurs('mail.example.net', ours));
});

t.test('bare LF / CR detection, also across chunk borders', async (t) => {
  const run = (...chunks: string[]) => {
    const d = new BareNewlineDetector();
    for (const c of chunks) d.observe(Buffer.from(c, 'latin1'));
    return d.end();
  };
  t.equal(run('Subject: x\r\n\r\nbody\r\n'), null);
  t.equal(run('Subject: x\r', '\n\r\nbody\r\n'), null, 'CRLF split between chunks');
  t.match(run('a\r\nb\n.\nMAIL FROM:<x>\r\n'), /bare LF/);
  t.match(run('a\r\nb\r.\r\n'), /bare CR/);
  t.match(run('a\r\n', '\n.\r\n'), /bare LF at byte 3/);
  t.match(run('a\r\nb\r'), /bare CR/, 'trailing CR');
  t.match(run('a\r', 'x'), /bare CR at byte 1/);
});

t.test('callout cache: positive and negative TTLs, tempfail not cached, probes coalesced', async (t) => {
  let now = 1000;
  let probes = 0;
  const c = new CalloutCache({ positiveTtlMs: 100, negativeTtlMs: 50, maxEntries: 2, now: () => now });
  const probe = (status: 'accept' | 'reject' | 'tempfail') => async () => { probes++; return { status, reply: status }; };
  t.equal((await c.lookup('a', probe('accept'))).cached, false);
  t.equal((await c.lookup('a', probe('reject'))).status, 'accept');
  now += 101;
  t.equal((await c.lookup('a', probe('reject'))).status, 'reject', 'positive expired');
  now += 49;
  t.equal((await c.lookup('a', probe('accept'))).status, 'reject');
  await c.lookup('t', probe('tempfail'));
  t.equal((await c.lookup('t', probe('accept'))).status, 'accept', 'tempfail was not cached');
  probes = 0;
  const [x, y] = await Promise.all([c.lookup('z', probe('accept')), c.lookup('z', probe('accept'))]);
  t.equal(probes, 1);
  t.equal(x.status, y.status);
  t.ok(c.size <= 2, 'bounded');
});

t.test('sender domain mailability', async (t) => {
  const zone: Record<string, unknown> = {
    'mx.test/MX': [{ exchange: 'mail.mx.test', priority: 10 }],
    'nullmx.test/MX': [{ exchange: '', priority: 0 }],
    'aonly.test/A': ['192.0.2.1'],
    'slow.test/MX': err('ETIMEOUT'),
  };
  const resolve = (async (name: string, rr: string) => {
    const r = zone[`${name}/${rr}`];
    if (r instanceof Error) throw r;
    if (r) return r;
    throw err(name.startsWith('nx') ? 'ENOTFOUND' : 'ENODATA');
  }) as unknown as ResolveFn;
  t.equal((await domainMailability('mx.test', resolve)).status, 'ok');
  t.equal((await domainMailability('aonly.test', resolve)).status, 'ok');
  t.equal((await domainMailability('nullmx.test', resolve)).status, 'null-mx');
  t.equal((await domainMailability('nx.test', resolve)).status, 'nxdomain');
  t.equal((await domainMailability('empty.test', resolve)).status, 'no-mail');
  t.equal((await domainMailability('slow.test', resolve)).status, 'temperror');
});

t.test('the policy section is in the config with safe defaults', async (t) => {
  const c = parseConfig({});
  t.same(c.policy.dnsbl.zones, []);
  t.equal(c.policy.hygiene.rejectBareLf, true);
  t.equal(c.policy.senderVerification.enabled, false);
  t.throws(() => parseConfig({ policy: { dnsbl: { zones: ['bl.test=127.0.0.[2..x]'] } } }), /zone\[=a\.b\.c\.d\]/);
  t.throws(() => parseConfig({ policy: { access: { global: { senders: [{ match: '/(/', action: 'deny' }] } } } }), /does not compile/);
});

t.test('list files: merged after the config entries; a broken or missing one refuses the config', async (t) => {
  const dir = t.testdir({
    'good.yaml': 'global:\n  senders:\n    - { match: spam.test, action: deny, reply: from the file }\nusers:\n  boss@corp.test:\n    senders: [{ match: spam.test, action: allow }]\n',
    'bad.yaml': 'global:\n  senders:\n    - { match: x.test, action: maybe }\n',
  });
  const config = parseConfig({ policy: { access: { global: { senders: [{ match: 'first.test', action: 'deny' }] }, files: [join(dir, 'good.yaml')] } } });
  const a = accessOf(config);
  t.equal(accessOf(config), a, 'compiled once per config');
  t.equal(evaluateAccess(a, { ip: '192.0.2.1', ptr: null, sender: 'x@spam.test', recipient: 'u@corp.test' }).reply, 'from the file');
  t.equal(evaluateAccess(a, { ip: '192.0.2.1', ptr: null, sender: 'x@first.test', recipient: 'u@corp.test' }).action, 'deny');
  t.equal(evaluateAccess(a, { ip: '192.0.2.1', ptr: null, sender: 'x@spam.test', recipient: 'boss@corp.test' }).action, 'allow');
  t.throws(() => parseConfig({ policy: { access: { files: [join(dir, 'bad.yaml')] } } }), /policy\.access\.files\[0\]: .*bad\.yaml: global\.senders\.0\.action/);
  t.throws(() => parseConfig({ policy: { access: { files: [join(dir, 'missing.yaml')] } } }), /missing\.yaml: ENOENT/);
  t.throws(() => parseConfig({ policy: { recipientVerification: { domains: { 'corp.test': { method: 'static', usersFile: join(dir, 'none') } } } } }), /usersFile: cannot read/);
});

t.test('session state: hits per session and transaction, a refused recipient keeps none, MAIL resets', async (t) => {
  const { recordPhase, policyHits, isAllowListed, transactionMemo } = await import('../../../gateway/src/policy/session-state.js');
  const session = { id: 's', listener: 'mx', kind: 'mx' as const, direction: 'inbound' as const, clientIp: '192.0.2.1', clientPort: 1, ptr: null, helo: '', tls: null, authUser: null, trustedBy: null };
  const h = (name: string, detail?: string) => ({ name, score: 1, ...(detail ? { detail } : {}) });
  recordPhase(session, 'connect', { action: 'accept', hits: [h('DNSBL_SUM', 'x')] });
  recordPhase(session, 'helo', { action: 'accept', hits: [h('HELO_INVALID')] });
  recordPhase(session, 'helo', { action: 'accept', hits: [] });
  recordPhase(session, 'mail', { action: 'accept', hits: [] });
  recordPhase(session, 'rcpt', { action: 'accept', hits: [h('ACCESS_ALLOW', 'a')] });
  recordPhase(session, 'rcpt', { action: 'accept', hits: [h('ACCESS_ALLOW', 'a')] });
  recordPhase(session, 'rcpt', { action: 'reject', reply: 'ACCESS_DENIED', hits: [h('ACCESS_DENY')] });
  t.same(policyHits(session).map((x) => x.name), ['DNSBL_SUM', 'ACCESS_ALLOW'], 'HELO replaced, duplicates once, refused rcpt dropped');
  t.ok(isAllowListed(session));
  let calls = 0;
  const memo = () => transactionMemo(session, 'k', async () => ++calls);
  t.equal(await memo(), 1);
  t.equal(await memo(), 1);
  recordPhase(session, 'mail', { action: 'accept', hits: [] });
  t.same(policyHits(session).map((x) => x.name), ['DNSBL_SUM'], 'a new transaction');
  t.notOk(isAllowListed(session));
  t.equal(await memo(), 2, 'memo reset at MAIL');
});

t.test('the first entry in list order decides, whether it is found in the index or by testing', async (t) => {
  // Entries of every kind over a small universe, so that several match one subject; the indexed
  // answer must be the one a plain scan in order gives.
  const domains = ['a.test', 'b.a.test', 'c.b.a.test', 'x.test', 'y.x.test'];
  const locals = ['alice', 'bob', 'bounce'];
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const kinds = [
    () => `${locals[rnd(3)]}@${domains[rnd(5)]}`, () => `${locals[rnd(3)]}@`, () => domains[rnd(5)]!,
    () => `*.${domains[rnd(5)]}`, () => `.${domains[rnd(5)]}`, () => `/^${locals[rnd(3)]}@.*${domains[rnd(5)]!.replace(/\./g, '\\.')}$/`,
  ];
  const entries = Array.from({ length: 400 }, () => ({ match: kinds[rnd(kinds.length)]!(), action: 'score' as const, score: 1 }));
  const a = compileAccess([accessFileSchema.parse({ global: { senders: entries, recipients: entries } })]);
  const scan = entries.map((e) => ({ e, test: compileAddress(e.match) }));
  let checked = 0;
  for (const local of [...locals, 'carol']) {
    for (const domain of [...domains, 'z.test', 'q.c.b.a.test']) {
      const address = `${local}@${domain}`;
      const want = scan.find((x) => x.test(address))?.e.match;
      const got = evaluateAccess(a, { ip: '192.0.2.1', ptr: null, sender: address, recipient: 'nobody@elsewhere.test' }).hits[0]?.detail;
      t.equal(got, want === undefined ? undefined : `global senders: ${want}`, address);
      checked++;
    }
  }
  t.equal(checked, 28);
  // Clients: IP entries, names, suffixes and regexes in one list.
  const clients = [
    { match: '/^mx\\d\\.b\\.a\\.test$/', action: 'score' as const }, { match: '*.a.test', action: 'score' as const },
    { match: '192.0.2.0/24', action: 'score' as const }, { match: 'mx1.b.a.test', action: 'score' as const },
  ];
  const c = compileAccess([accessFileSchema.parse({ global: { clients } })]);
  const first = (ip: string, ptr: string | null) => evaluateAccess(c, { ip, ptr, sender: '', recipient: 'u@corp.test' }).hits[0]?.detail;
  t.equal(first('198.51.100.1', 'mx1.b.a.test'), 'global clients: /^mx\\d\\.b\\.a\\.test$/', 'a regex listed first wins over a name and a suffix');
  t.equal(first('192.0.2.5', 'www.a.test'), 'global clients: *.a.test', 'a suffix listed before the CIDR');
  t.equal(first('192.0.2.5', 'other.test'), 'global clients: 192.0.2.0/24');
  t.equal(first('198.51.100.1', 'other.test'), undefined);
});

t.test('the access verdict is remembered across sessions per subject, exactly as evaluated, and shared frozen', async (t) => {
  const { accessVerdict } = await import('../../../gateway/src/policy/access.js');
  const config = parseConfig({ policy: { access: { global: { senders: [{ match: '/^Boss@/', action: 'score', score: 2 }, { match: 'spam.test', action: 'deny' }] }, users: { 'vip@corp.test': { senders: [{ match: 'spam.test', action: 'allow' }] } } } } });
  const resolve: ResolveFn = async () => { throw err('ENOTFOUND'); };
  const session = (id: string) => ({ id, listener: 'mx', kind: 'mx' as const, direction: 'inbound' as const, clientIp: '192.0.2.9', clientPort: 1, ptr: null, helo: '', tls: null, authUser: null, trustedBy: null });
  const ask = (id: string, mailFrom: string, recipient: string) => accessVerdict({ config, session: session(id), envelope: { mailFrom }, recipient, resolve });
  const a = accessOf(config);
  for (const [from, to] of [['Boss@x.test', 'u@corp.test'], ['boss@x.test', 'u@corp.test'], ['x@spam.test', 'u@corp.test'], ['x@spam.test', 'vip@corp.test'], ['', 'u@corp.test']] as const) {
    const first = await ask(`a${from}${to}`, from, to);
    const again = await ask(`b${from}${to}`, from, to);
    t.same(first, evaluateAccess(a, { ip: '192.0.2.9', ptr: null, sender: from, recipient: to }), `${from} → ${to}: as evaluated`);
    t.equal(again, first, `${from} → ${to}: the next session gets the remembered verdict`);
    t.ok(Object.isFrozen(first) && Object.isFrozen(first.hits), 'frozen: shared by sessions');
  }
  t.equal((await ask('c', 'Boss@x.test', 'u@corp.test')).hits[0]?.name, 'ACCESS_SCORE', 'the regex sees the sender as sent');
  t.same((await ask('d', 'boss@x.test', 'u@corp.test')).hits, [], 'another case is another subject');
  const reloaded = parseConfig({ policy: { access: { global: { senders: [{ match: 'x.test', action: 'deny' }] } } } });
  t.equal((await accessVerdict({ config: reloaded, session: session('e'), envelope: { mailFrom: 'boss@x.test' }, recipient: 'u@corp.test', resolve })).action, 'deny', 'a new config is judged afresh');
});
